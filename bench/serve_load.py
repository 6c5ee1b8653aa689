"""Bounded load test of `mlx-modernbert serve`: a fixed number of requests at a fixed concurrency against a server on
127.0.0.1; prints p50/p99 latency, rows/s and the error count (and writes them as JSON with --output).

Run: .venv/bin/python bench/serve_load.py --checkpoint RUN [--requests 200 --concurrency 8 --rows 1]
(starts its own server on a free port and stops it by PID), or --url http://127.0.0.1:8000 for a running one."""
import argparse, json, socket, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import httpx
import numpy as np
import pandas as pd

TEST_CSV = Path(__file__).resolve().parents[1] / "mlx_modernbert" / "data" / "titanic" / "test.csv"

def start_server(checkpoint:str, max_wait_ms:float, timeout:float=300):
    "A `serve_run` process on a free 127.0.0.1 port, once /health answers: (process, url)."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    code = f"import sys; from mlx_modernbert.serve import serve_run; serve_run(sys.argv[1], port={port}, log_level='warning', max_wait_ms={max_wait_ms})"
    proc = subprocess.Popen([sys.executable, "-c", code, checkpoint])
    url, deadline = f"http://127.0.0.1:{port}", time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None: sys.exit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200: return proc, url
        except httpx.TransportError: time.sleep(0.5)
    proc.terminate(); sys.exit("the server did not answer /health in time")

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", help="run folder to serve (a server is started and stopped)")
    p.add_argument("--url", help="a running server instead")
    p.add_argument("--requests", type=int, default=200, help="requests to send")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    p.add_argument("--rows", type=int, default=1, help="rows per request")
    p.add_argument("--csv", default=str(TEST_CSV), help="rows to send (cycled)")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="the started server's batching wait")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds one request may take")
    p.add_argument("--output", help="write the figures as JSON")
    args = p.parse_args()
    if not (args.checkpoint or args.url): p.error("give --checkpoint or --url")
    rows = json.loads(pd.read_csv(args.csv).to_json(orient="records"))
    bodies = [[rows[(i * args.rows + j) % len(rows)] for j in range(args.rows)] for i in range(args.requests)]
    proc, url = start_server(args.checkpoint, args.max_wait_ms) if not args.url else (None, args.url.rstrip("/"))
    try:
        with httpx.Client(base_url=url, timeout=args.timeout, limits=httpx.Limits(max_connections=args.concurrency)) as client:
            client.post("/predict", json=bodies[0])   # warm-up: first compile of the shapes
            before = client.get("/health").json()
            def send(body):
                t = time.perf_counter()
                try: ok = client.post("/predict", json=body).status_code == 200
                except httpx.HTTPError: ok = False
                return time.perf_counter() - t, ok
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool: results = list(pool.map(send, bodies))
            wall = time.perf_counter() - start
            after = client.get("/health").json()
    finally:
        if proc is not None:
            proc.terminate(); proc.wait(timeout=30)
    lat = np.array([r[0] for r in results]) * 1000
    errors = sum(not r[1] for r in results)
    figures = {"requests": args.requests, "concurrency": args.concurrency, "rows_per_request": args.rows,
               "p50_ms": round(float(np.percentile(lat, 50)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1),
               "rows_per_s": round(args.requests * args.rows / wall, 1), "requests_per_s": round(args.requests / wall, 1),
               "errors": errors, "batches": after.get("batches", 0) - before.get("batches", 0), "seconds": round(wall, 2)}
    print(f"{args.requests} requests x {args.rows} row(s), concurrency {args.concurrency}: p50 {figures['p50_ms']} ms, "
          f"p99 {figures['p99_ms']} ms, {figures['rows_per_s']} rows/s, {figures['batches']} batches, errors: {errors}")
    if args.output: Path(args.output).write_text(json.dumps(figures, indent=1))
    return 1 if errors else 0

if __name__ == "__main__": sys.exit(main())
