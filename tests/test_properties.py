"Property-based: any CSV either goes through validation, templates and tokenization, or fails with DataError."
import csv
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from mlx_modernbert.datasets import DataError, TabularDataset
from mlx_modernbert.templates import make_template
from mlx_modernbert.tokenize import TextTokenizer
from mlx_modernbert.hub import resolve_model_dir

TOKENIZER = TextTokenizer.from_folder(resolve_model_dir("all-MiniLM-L6-v2"))
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12)
cells = {
    "int": st.one_of(st.none(), st.integers(-10**6, 10**6)),
    "float": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32)),
    "text": st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)),
    "bool": st.one_of(st.none(), st.booleans()),
    "category": st.one_of(st.none(), st.sampled_from(["a", "b", "Gentoo", "été", "x,y", 'q"uote'])),
}

@st.composite
def tables(draw):
    n_rows = draw(st.integers(1, 25))
    n_cols = draw(st.integers(1, 6))
    cols = {}
    for _ in range(n_cols):
        kind = draw(st.sampled_from(sorted(cells)))
        cols[draw(names)] = draw(st.lists(cells[kind], min_size=n_rows, max_size=n_rows))
    target_kind = draw(st.sampled_from(["binary", "multiclass", "regression", "empty", "single", "text"]))
    target = {"binary": st.sampled_from([0, 1]), "multiclass": st.sampled_from(["p", "q", "r"]),
              "regression": st.floats(-1e6, 1e6), "empty": st.none(), "single": st.just(3),
              "text": st.one_of(st.none(), st.text(max_size=5))}[target_kind]
    target_name = "y" + draw(names)
    cols[target_name] = draw(st.lists(target, min_size=n_rows, max_size=n_rows))
    return pd.DataFrame(cols), target_name, draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])), \
        draw(st.sampled_from(["utf-8", "utf-8", "latin-1"])), draw(st.sampled_from(["key-value", "sentence"]))

@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tables())
def test_any_csv_works_or_fails_with_data_error(tmp_path, table):
    df, target, quoting, encoding, style = table
    path = tmp_path / "train.csv"
    try: path.write_bytes(df.to_csv(index=False, quoting=quoting).encode(encoding))
    except UnicodeEncodeError: path.write_bytes(df.to_csv(index=False, quoting=quoting).encode("utf-8"))
    try:
        ds = TabularDataset.load(path, target)
        texts = make_template(style, ds).render(ds.frame)
        ids = TOKENIZER.encode(texts, max_length=64)
    except DataError as e:
        assert str(e)  # a message, from the project's own error type
        event(f"DataError: {str(e).replace(str(path), '')[:40]}")
        return
    event(f"ok: {ds.task}")
    assert len(texts) == len(ids) == len(ds) == len(ds.y)
    assert all(isinstance(t, str) for t in texts)
    assert ds.encoding.decode(ds.y[:1] if ds.task != "regression" else ds.y[:1, 0]).shape[0] == 1

any_cell = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(st.characters(blacklist_categories=("Cs",)), max_size=30), st.sampled_from(["unknown", " ", "3", "S ", "1e400"]))
TITANIC_COLUMNS = ["Name", "Sex", "Age", "Pclass", "SibSp", "Parch", "Fare", "Embarked", "Cabin", "Ticket"]

@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({c: any_cell for c in TITANIC_COLUMNS}), min_size=1, max_size=8), st.lists(st.sampled_from([0, 1]), min_size=8, max_size=8))
def test_titanic_template_never_fails_on_a_cell(rows, target):
    "The curated Titanic template writes any row, whatever the type of each cell (a word where a number belongs, inf, None...)."
    from mlx_modernbert.templates import TitanicTemplate
    df = pd.DataFrame(rows)
    t = TitanicTemplate.fit(df).fit_outcomes(df, np.array(target[:len(df)]))
    for texts in (t.render(df), t.render_training(df, np.array(target[:len(df)]))):
        assert len(texts) == len(df) and all(isinstance(s, str) and s.endswith(".") for s in texts)
