"`mlx-modernbert serve` end to end: a real uvicorn server on 127.0.0.1 in its own process, a real HTTP client (httpx)."
import json, socket, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import httpx
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_CSV = ROOT / "mlx_modernbert" / "data" / "titanic" / "test.csv"

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

def start_server(checkpoint, port:int, *extra:str, timeout:float=180) -> subprocess.Popen:
    "A `serve_run` process on 127.0.0.1:`port`, returned once /health answers."
    code = ("import sys; from mlx_modernbert.serve import serve_run; "
            f"serve_run(sys.argv[1], port={port}, log_level='warning', {', '.join(extra)})")
    proc = subprocess.Popen([sys.executable, "-c", code, str(checkpoint)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None: raise RuntimeError(f"server exited with {proc.returncode}:\n{proc.stdout.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200: return proc
        except httpx.TransportError: time.sleep(0.5)
    stop_server(proc); raise RuntimeError("server did not answer /health in time")

def stop_server(proc:subprocess.Popen):
    proc.terminate()
    try: proc.wait(timeout=20)
    except subprocess.TimeoutExpired: proc.kill(); proc.wait(timeout=10)

@pytest.fixture(scope="module")
def server(run_dir):
    port = free_port()
    proc = start_server(run_dir, port, "max_body_mb=0.5", "max_wait_ms=20")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        yield client
    stop_server(proc)
    assert proc.returncode is not None

@pytest.fixture(scope="module")
def test_rows():
    return pd.read_csv(TEST_CSV).head(12)

def records(df): return json.loads(df.to_json(orient="records"))

def test_health_metadata_docs(server, run_dir):
    health = server.get("/health").json()
    assert health["status"] == "ok" and health["models"] == 1
    meta = server.get("/metadata").json()
    assert meta["task"] == "binary" and meta["labels"] == [0, 1] and meta["targets"] == ["Survived"]
    assert meta["id_column"] == "PassengerId" and "Age" in meta["features"] and "Survived" not in meta["features"]
    assert meta["template"]["class"] == "TitanicTemplate" and meta["model"].endswith("all-MiniLM-L6-v2")
    assert meta["checkpoints"] == [str(run_dir / "model" / "checkpoints" / "final")]
    assert server.get("/docs").status_code == 200 and "swagger" in server.get("/docs").text.lower()
    spec = server.get("/openapi.json").json()
    assert set(spec["paths"]) >= {"/predict", "/health", "/metadata"}
    assert set(spec["paths"]["/predict"]["post"]["requestBody"]["content"]) == {"application/json", "text/csv", "multipart/form-data"}

def test_predictions_equal_predict_run(server, run_dir, test_rows):
    from mlx_modernbert.predict import predict_run
    sub = predict_run(test_rows, run_dir, probabilities=True)
    got = server.post("/predict", json=records(test_rows))
    assert got.status_code == 200, got.text
    pred = got.json()["predictions"]
    assert [p["PassengerId"] for p in pred] == sub.PassengerId.tolist()
    assert [p["Survived"] for p in pred] == sub.Survived.tolist()
    probs = np.array([[p["probabilities"]["0"], p["probabilities"]["1"]] for p in pred])
    np.testing.assert_allclose(probs, sub[["prob_0", "prob_1"]].to_numpy(), atol=1e-5)

def test_csv_body_and_upload(server, test_rows):
    by_json = server.post("/predict", json=records(test_rows)).json()["predictions"]
    text = test_rows.to_csv(index=False)
    by_body = server.post("/predict", content=text, headers={"content-type": "text/csv"})
    by_upload = server.post("/predict", files={"file": ("test.csv", text, "text/csv")})
    assert by_body.status_code == 200 and by_upload.status_code == 200, (by_body.text, by_upload.text)
    assert [p["Survived"] for p in by_body.json()["predictions"]] == [p["Survived"] for p in by_json]
    assert by_upload.json()["predictions"] == by_body.json()["predictions"]

def test_rows_without_id_and_wrapped(server, test_rows):
    rows = records(test_rows.drop(columns="PassengerId").head(3))
    got = server.post("/predict", json={"rows": rows})
    assert got.status_code == 200, got.text
    assert [set(p) for p in got.json()["predictions"]] == [{"Survived", "probabilities"}] * 3

@pytest.mark.parametrize("case, status, message", [
    ("missing column", 422, "test data lacks columns ['Age'] that the model was trained with"),
    ("unknown column", 422, "unknown columns ['Agee']"),
    ("nested value", 422, "row 0: column 'Fare' holds [1, 2]"),
    ("not JSON", 400, "the body is not valid JSON"),
    ("not rows", 422, "expected a list of row objects"),
    ("empty", 422, "the request has no rows"),
    ("bad CSV", 422, "upload: has a header but no rows"),
    ("media type", 415, "content type 'application/xml' is not supported"),
    ("too large", 413, "over the limit of 524288 bytes"),
    ("too large, chunked", 413, "over the limit of 524288 bytes"),
])
def test_bad_input_is_a_4xx_with_the_message(server, test_rows, case, status, message):
    row = records(test_rows.head(1))[0]
    big = json.dumps([row] * 3000).encode()
    send = {
        "missing column": lambda: server.post("/predict", json=[{k: v for k, v in row.items() if k != "Age"}]),
        "unknown column": lambda: server.post("/predict", json=[{**row, "Agee": 3}]),
        "nested value": lambda: server.post("/predict", json=[{**row, "Fare": [1, 2]}]),
        "not JSON": lambda: server.post("/predict", content=b"{rows: [", headers={"content-type": "application/json"}),
        "not rows": lambda: server.post("/predict", json="Age=3"),
        "empty": lambda: server.post("/predict", json=[]),
        "bad CSV": lambda: server.post("/predict", content=b"Age,Sex\n", headers={"content-type": "text/csv"}),
        "media type": lambda: server.post("/predict", content=b"<rows/>", headers={"content-type": "application/xml"}),
        "too large": lambda: server.post("/predict", content=big, headers={"content-type": "application/json"}),
        "too large, chunked": lambda: server.post("/predict", content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                                                  headers={"content-type": "application/json"}),
    }[case]
    got = send()
    assert got.status_code == status, got.text
    assert message in got.json()["detail"], got.json()
    assert server.post("/predict", json=[row]).status_code == 200   # the server still answers good requests

def test_requests_arriving_together_are_batched(server, test_rows):
    before = server.get("/health").json()
    rows = records(test_rows)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: server.post("/predict", json=[rows[i % len(rows)]]), range(16)))
    assert all(a.status_code == 200 for a in answers)
    assert [a.json()["predictions"][0]["PassengerId"] for a in answers] == [rows[i % len(rows)]["PassengerId"] for i in range(16)]
    after = server.get("/health").json()
    assert after["requests"] - before["requests"] == 16
    assert after["batches"] - before["batches"] < 16, (before, after)   # some requests shared a pass

def test_cli_wiring(run_dir):
    "The command registers on a Typer app the way the CLI wires it; a bad --quantize is refused with a one-line error before loading."
    from typer.testing import CliRunner
    from mlx_modernbert.cli import app   # the real command line, wired as users get it
    runner = CliRunner()
    help = runner.invoke(app, ["serve", "--help"])
    assert help.exit_code == 0 and "--checkpoint" in help.output and "--max-body-mb" in help.output
    got = runner.invoke(app, ["serve", "--checkpoint", str(run_dir), "--quantize", "7"])
    assert got.exit_code == 2 and "bits=7: use one of" in got.output


def test_a_word_in_a_numeric_column_is_read_as_missing(server, test_rows):
    "As `predict` does: the row is answered, its Age read as missing."
    row = records(test_rows.head(1))[0]
    got, missing = server.post("/predict", json=[{**row, "Age": "old"}]), server.post("/predict", json=[{**row, "Age": None}])
    assert got.status_code == 200 and got.json()["predictions"] == missing.json()["predictions"]
