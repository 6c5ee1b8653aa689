"Shared helpers for the tests: import order (MLX via the package first), tolerances, torch <-> numpy."
import mlx_modernbert.backend  # noqa: F401  (loads OpenBLAS before anything imports mlx.core)
import time
import numpy as np

def max_abs_diff(a, b) -> float:
    "Largest absolute difference between two array-likes (MLX, torch or numpy)."
    to_np = lambda x: x.detach().float().numpy() if hasattr(x, "detach") else np.array(x, dtype=np.float32)
    return float(np.abs(to_np(a) - to_np(b)).max())

def report(name:str, diff:float):
    "Print a measured difference so `pytest -s` shows the figures the closing note quotes."
    print(f"\n[parity] {name}: max |diff| = {diff:.3e}")

def wait_for(pred, proc, limit:float=300) -> bool:
    "Poll `pred()` until it is true (True), the process `proc` ends or `limit` seconds pass (False)."
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if pred(): return True
        if proc.poll() is not None: return False
        time.sleep(0.02)
    return False
