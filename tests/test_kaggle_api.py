"""The Kaggle commands through the official `kaggle` package, with only its HTTP boundary replaced: a local server
speaking the API's endpoints (the package's own `KAGGLE_API_ENVIRONMENT=LOCALHOST` points its client at http://localhost)."""
import base64, io, json, os, subprocess, sys, threading, zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import pytest

pytest.importorskip("kaggle.api.kaggle_api_extended")
pytestmark = pytest.mark.xdist_group("port-80")   # one local server on port 80 at a time: these tests share a worker
CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
SERVICE = "/api/v1/competitions.CompetitionApiService/"
GOOD_AUTH = "Basic " + base64.b64encode(b"tester:secret-key").decode()
LEADERBOARD = [{"teamId": 100 + k, "teamName": f"team {k}", "submissionDate": f"2026-11-0{k + 1}T10:00:00.000Z", "score": f"0.8{9 - k}000"}
               for k in range(5)]
SUBMISSIONS = [{"ref": 7002, "date": "2026-11-30T09:15:00.000Z", "fileName": "submission.csv", "description": "fold ensemble",
                "status": "COMPLETE", "publicScore": "0.77990", "privateScore": ""},
               {"ref": 7001, "date": "2026-11-29T08:00:00.000Z", "fileName": "first.csv", "description": "first try",
                "status": "ERROR", "errorDescription": "wrong number of rows"}]

def competition_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("train.csv", "PassengerId,Survived\n1,0\n2,1\n")
        z.writestr("test.csv", "PassengerId\n3\n")
    return buf.getvalue()

class FakeKaggle(BaseHTTPRequestHandler):
    "Kaggle's competition endpoints, recording every request."
    calls, uploads = [], {}

    def log_message(self, *args): pass

    def _reply(self, code:int, body:bytes=b"", headers:dict|None=None):
        self.send_response(code)
        for k, v in (headers or {}).items(): self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)

    def _json(self, code:int, obj:dict): self._reply(code, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        FakeKaggle.calls.append((self.path, body, self.headers.get("Authorization", "")))
        if self.path in (SERVICE + "GetLeaderboard", SERVICE + "ListSubmissions") and self.headers.get("Authorization") != GOOD_AUTH:
            return self._json(401, {"code": 401, "message": "Unauthenticated"})
        if self.path == SERVICE + "GetLeaderboard":
            if body.get("competitionName") != "titanic": return self._json(404, {"code": 404, "message": "Competition not found"})
            return self._json(200, {"submissions": LEADERBOARD[:body.get("pageSize", 20)], "nextPageToken": "page-2"})
        if self.path == SERVICE + "ListSubmissions":
            return self._json(200, {"submissions": SUBMISSIONS[:body.get("pageSize", 20)], "nextPageToken": ""})
        if self.path == SERVICE + "DownloadDataFiles":
            if body.get("competitionName") != "titanic":
                return self._json(403, {"code": 403, "message": "You must accept this competition's rules"})
            return self._reply(302, headers={"Location": "http://localhost/files/titanic.zip"})
        if self.path == SERVICE + "StartSubmissionUpload":
            return self._json(200, {"createUrl": "http://localhost/upload/blob-1", "token": "blob-token-1"})
        if self.path == SERVICE + "CreateSubmission":
            ok = body.get("blobFileTokens") == "blob-token-1" and "blob-1" in FakeKaggle.uploads
            return self._json(200 if ok else 400, {"message": "Successfully submitted to Titanic" if ok else "no upload"})
        self._json(404, {"code": 404, "message": f"unknown endpoint {self.path}"})

    def do_GET(self):
        FakeKaggle.calls.append((self.path, None, self.headers.get("Authorization", "")))
        if self.path == "/files/titanic.zip":
            return self._reply(200, competition_zip(), {"Content-Type": "application/zip",
                                                       "Last-Modified": "Mon, 02 Nov 2026 10:00:00 GMT"})
        self._reply(404)

    def do_PUT(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        FakeKaggle.uploads[self.path.rsplit("/", 1)[-1]] = data
        self._json(200, {})

@pytest.fixture
def kaggle_server(tmp_path):
    FakeKaggle.calls, FakeKaggle.uploads = [], {}
    try: server = ThreadingHTTPServer(("127.0.0.1", 80), FakeKaggle)   # the client's local endpoint is http://localhost
    except PermissionError: pytest.skip("binding port 80 needs root (the kaggle client's local endpoint)")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "KAGGLE_API_ENVIRONMENT": "LOCALHOST", "KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "secret-key",
           "HOME": str(tmp_path), "NO_PROXY": "localhost,127.0.0.1"}
    yield env
    server.shutdown(); server.server_close()

def run(args, env, cwd):
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)

def test_download_through_the_kaggle_client(kaggle_server, tmp_path):
    r = run(["kaggle", "download", "titanic", "--folder", "data"], kaggle_server, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "data" / "train.csv").read_text().startswith("PassengerId,Survived")
    assert (tmp_path / "data" / "test.csv").exists()
    path, body, auth = FakeKaggle.calls[0]
    assert path == SERVICE + "DownloadDataFiles" and body == {"competitionName": "titanic"}
    assert auth.startswith("Basic ")                      # the credentials from the environment were sent

def test_download_refused_is_one_clear_line(kaggle_server, tmp_path):
    r = run(["kaggle", "download", "some-other-competition"], kaggle_server, tmp_path)
    assert r.returncode == 2 and "could not download 'some-other-competition'" in r.stdout and "Traceback" not in r.stdout + r.stderr

def test_submit_uploads_the_file_and_creates_the_submission(kaggle_server, tmp_path):
    sub = tmp_path / "submission.csv"; sub.write_text("PassengerId,Survived\n892,0\n893,1\n")
    r = run(["kaggle", "submit", str(sub), "--competition", "titanic", "-m", "mlx fold ensemble"], kaggle_server, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Successfully submitted to Titanic" in r.stdout
    paths = [c[0] for c in FakeKaggle.calls]
    assert paths == [SERVICE + "StartSubmissionUpload", SERVICE + "CreateSubmission"]
    start, create = FakeKaggle.calls[0][1], FakeKaggle.calls[1][1]
    assert start["competitionName"] == "titanic" and start["fileName"] == "submission.csv" and int(start["contentLength"]) == sub.stat().st_size
    assert FakeKaggle.uploads["blob-1"] == sub.read_bytes()
    assert create["blobFileTokens"] == "blob-token-1" and create["submissionDescription"] == "mlx fold ensemble"

def test_leaderboard_through_the_kaggle_client(kaggle_server, tmp_path):
    r = run(["kaggle", "leaderboard", "titanic", "--top", "3", "--json"], kaggle_server, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    entries = json.loads(r.stdout)                                        # nothing but the JSON (the client's page token is not printed)
    assert [(e["rank"], e["team"], e["score"]) for e in entries] == [(1, "team 0", "0.89000"), (2, "team 1", "0.88000"), (3, "team 2", "0.87000")]
    assert entries[0]["date"] == "2026-11-01 10:00:00"
    path, body, auth = FakeKaggle.calls[0]
    assert path == SERVICE + "GetLeaderboard" and body["competitionName"] == "titanic" and body["pageSize"] == 3 and auth == GOOD_AUTH
    table = run(["kaggle", "leaderboard", "titanic"], {**kaggle_server, "COLUMNS": "120"}, tmp_path)
    assert table.returncode == 0 and "team 4" in table.stdout and "0.85000" in table.stdout

def test_submissions_through_the_kaggle_client(kaggle_server, tmp_path):
    r = run(["kaggle", "submissions", "titanic", "--json"], kaggle_server, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    found = json.loads(r.stdout)
    assert [(s["ref"], s["file"], s["status"], s["public_score"]) for s in found] == [(7002, "submission.csv", "complete", "0.77990"), (7001, "first.csv", "error", None)]
    assert found[1]["error"] == "wrong number of rows" and found[0]["date"] == "2026-11-30 09:15:00"
    assert FakeKaggle.calls[0][0] == SERVICE + "ListSubmissions" and FakeKaggle.calls[0][1]["competitionName"] == "titanic"
    table = run(["kaggle", "submissions", "titanic"], {**kaggle_server, "COLUMNS": "160"}, tmp_path)
    assert table.returncode == 0 and "fold ensemble" in table.stdout and "0.77990" in table.stdout

def test_refused_credentials_and_unknown_competition_are_one_line(kaggle_server, tmp_path):
    r = run(["kaggle", "submissions", "titanic"], {**kaggle_server, "KAGGLE_KEY": "wrong-key"}, tmp_path)
    assert r.returncode == 2 and "HTTP 401" in r.stdout and "KAGGLE_KEY" in r.stdout and "Traceback" not in r.stdout + r.stderr
    r = run(["kaggle", "leaderboard", "no-such-competition"], kaggle_server, tmp_path)
    assert r.returncode == 2 and "HTTP 404" in r.stdout and "check the slug" in r.stdout and "Traceback" not in r.stdout + r.stderr
