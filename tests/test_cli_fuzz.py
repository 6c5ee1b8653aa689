"""Property-based CLI tests: mutated copies of the real Titanic CSVs through `predict` and `train`.

Every outcome is either a result with the right number of rows, or exactly one `error:` line (exit code 2) that names
the file or a column; never a traceback. Run with `-s` to see the count of cases tried and the outcome classes."""
import collections, csv, io, json, re, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings, strategies as st

CLI = str(Path(sys.executable).with_name("mlx-modernbert"))
DATA = Path(__file__).parents[1] / "mlx_modernbert" / "data" / "titanic"
TEST = pd.read_csv(DATA / "test.csv", dtype=str, keep_default_na=False)
TRAIN = pd.read_csv(DATA / "train.csv", dtype=str, keep_default_na=False)
NUMERIC = ["Pclass", "Age", "SibSp", "Parch", "Fare"]   # numeric features in training
OUTCOMES = {"predict": collections.Counter(), "train": collections.Counter()}

def cli(*args, timeout=300):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)

@pytest.fixture(scope="module")
def trained(titanic_run):
    "One Titanic run (96 rows, 1 epoch, the curated titanic template; conftest's shared run) for every predict case."
    return titanic_run

@pytest.fixture(scope="module", autouse=True)
def summary():
    "Print the count of cases tried and the outcome classes, per command, once the module is done."
    yield
    for command, counts in OUTCOMES.items():
        if counts: print(f"\n{command}: {sum(counts.values())} cases; outcomes: {dict(counts.most_common())}")

# ---- mutations of a table of strings -----------------------------------------------------------------------------
odd_values = st.one_of(
    st.sampled_from(["unknown", "", " ", "NaN", "inf", "-inf", "-1", "1e308", "1e-320", "0x1F", "True", "3,5", '"', "'", "a\nb",
                     "a\r\nb", "é漢字🙂", "\u200b", "\ufeff", "=1+1", "null", "None", "\\", ";", "\t", "1/0", "nan%"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(2_000, 60_000).map(lambda n: ("word " * n)[:n]))   # very long cells

@st.composite
def mutated(draw, base:pd.DataFrame, max_rows:int, protect:tuple=()):
    "A few rows of `base` with cell, column and id mutations, and how to write them (delimiter, quoting, BOM, CRLF, encoding)."
    n = draw(st.integers(1, max_rows))
    df = base.iloc[draw(st.integers(0, len(base) - n)):][:n].reset_index(drop=True).copy()
    ops = []
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cell"] * 4 + ["numeric-word"] * 2 + ["extra", "reorder", "id", "all-missing"] * 2 + ["drop", "dup", "rename"]))
        cols = list(df.columns)
        if op in ("cell", "numeric-word"):
            col = draw(st.sampled_from([c for c in NUMERIC if c in cols] or cols)) if op == "numeric-word" else draw(st.sampled_from(cols))
            row = draw(st.integers(0, n - 1))
            df.loc[row, col] = "unknown" if op == "numeric-word" else draw(odd_values)
        elif op == "drop" and len(cols) > 1:
            col = draw(st.sampled_from(cols)); df = df.drop(columns=col)
        elif op == "extra":
            df[draw(st.sampled_from(["Extra", "", "Unnamed: 3", "Age ", "notes✓"]))] = draw(odd_values)
        elif op == "reorder":
            df = df[draw(st.permutations(cols))]
        elif op == "dup":
            col = draw(st.sampled_from(cols)); df = pd.concat([df, df[[col]]], axis=1)
        elif op == "rename":
            col = draw(st.sampled_from(cols)); df = df.rename(columns={col: draw(st.sampled_from([col.lower(), col + " ", "x", "Survived"]))})
        elif op == "id" and "PassengerId" in cols:
            kind = draw(st.sampled_from(["duplicate", "empty", "text", "huge", "negative", "float"]))
            row = draw(st.integers(0, n - 1))
            df.loc[row, "PassengerId"] = {"duplicate": df.PassengerId.iloc[0], "empty": "", "text": "P-1", "huge": "9" * 30,
                                          "negative": "-5", "float": "892.5"}[kind]
        elif op == "all-missing":
            df[draw(st.sampled_from(cols))] = ""
        else: continue
        ops.append(op)
    fmt = dict(delimiter=draw(st.sampled_from([","] * 6 + [";", "\t"])),
               quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
               bom=draw(st.booleans()), crlf=draw(st.booleans()), encoding=draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "latin-1"])))
    return df, ops, fmt

def write_csv(df:pd.DataFrame, path:Path, fmt:dict) -> Path:
    "Write `df` (strings) as `fmt` says."
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=fmt["delimiter"], quoting=fmt["quoting"], lineterminator="\r\n" if fmt["crlf"] else "\n")
    w.writerow(df.columns); w.writerows(df.itertuples(index=False, name=None))
    text = ("\ufeff" if fmt["bom"] else "") + buf.getvalue()
    try: path.write_bytes(text.encode(fmt["encoding"]))
    except UnicodeEncodeError: path.write_bytes(text.encode("utf-8"))
    return path

def outcome(r, names:list[str]) -> str:
    "`ok` or the error's class; fails on a traceback, a second error line, or an error that names neither the file nor a column."
    both = r.stdout + r.stderr
    assert "Traceback" not in both, both[-4000:]
    if r.returncode == 0: return "ok"
    errors = [l for l in both.splitlines() if l.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1, f"rc={r.returncode}\n{both[-4000:]}"
    assert any(n and n in errors[0] for n in names), f"the error names neither the file nor a column: {errors[0]}"
    cls = errors[0]
    for n in sorted(names, key=len, reverse=True): cls = cls.replace(n, "…") if n else cls
    return "error: " + " ".join(re.sub(r"[\[\]'\"(),:]", " ", cls[len("error:"):]).split()[:5])

CASES = {"predict": 0, "train": 0}

@pytest.mark.slow
@settings(max_examples=16, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=mutated(TEST, 20))
def test_predict_on_mutated_test_csv(trained, tmp_path, case):
    df, ops, fmt = case
    CASES["predict"] += 1
    path = write_csv(df, tmp_path / f"test-{CASES['predict']}.csv", fmt)
    out = tmp_path / f"sub-{CASES['predict']}.csv"
    r = cli("predict", "--test", path, "--checkpoint", trained, "--output", out)
    kind = outcome(r, [str(path), path.name, *map(str, df.columns), "PassengerId", *TEST.columns])
    OUTCOMES["predict"][kind] += 1; event(kind)
    if kind == "ok":
        sub = pd.read_csv(out)
        assert len(sub) == len(df) and list(sub.columns) == ["PassengerId", "Survived"], (len(sub), len(df), ops, fmt)
        worded = [c for c in NUMERIC if c in df.columns and (df[c].str.strip() == "unknown").any()]
        for c in worded:   # a word in a numeric column: read as missing, with a warning naming the column
            assert f"column {c}" in r.stdout + r.stderr, (c, r.stderr[-2000:])

@pytest.mark.slow
@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=mutated(TRAIN, 48), target=st.lists(st.sampled_from(["", "yes", "2", "unknown", "1.0", "0"]), max_size=3))
def test_train_on_mutated_train_csv(tmp_path, case, target, tiny_model_env):
    df, ops, fmt = case
    CASES["train"] += 1
    if "Survived" in df.columns:   # target oddities
        for k, value in enumerate(target): df.loc[k % len(df), "Survived"] = value
    path = write_csv(df, tmp_path / f"train-{CASES['train']}.csv", fmt)
    out = tmp_path / f"runs-{CASES['train']}"
    r = cli("train", "--folds", "0", "--dataset", "titanic", "--train", path, "--test", "none", "--limit-rows", "48", "--epochs", "1",
            "--max-length", "32", "--no-mlflow", "--output", out)
    kind = outcome(r, [str(path), path.name, *map(str, df.columns), "Survived", "PassengerId", *TRAIN.columns])
    OUTCOMES["train"][kind] += 1; event(kind)
    if kind == "ok":
        run = next(p for p in out.iterdir() if (p / "scores.json").exists())
        val = pd.read_csv(run / "validation_predictions.csv")
        assert 0 < len(val) <= len(df) and json.loads((run / "scores.json").read_text())["scores"]
