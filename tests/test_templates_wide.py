"Wide tables: the compact key-value template lets far more of House Prices' 79 columns into 128 tokens, and the truncation warning names the columns lost."
import logging, re
from pathlib import Path
import numpy as np
import pytest
from mlx_modernbert.datasets import load_dataset
from mlx_modernbert.hub import resolve_model_dir
from mlx_modernbert.templates import KeyValueTemplate, make_template
from mlx_modernbert.tokenize import TextTokenizer, columns_cut, tokenize_cached

DATA = Path(__file__).parent / "data"
MAX_LENGTH = 128

@pytest.fixture(scope="module")
def houses(): return load_dataset("house-prices", DATA / "house_prices" / "train.csv")

@pytest.fixture(scope="module")
def tok(): return TextTokenizer.from_folder(resolve_model_dir("all-MiniLM-L6-v2"))

def coverage(tok, texts, features, max_length=MAX_LENGTH):
    "Per row: tokens in full, and how many columns (in order) come before the first one the cut loses."
    full = np.array([len(ids) for ids in tok.encode(texts, 100_000)])
    tok.tokenizer.enable_truncation(max_length)
    try: encodings = tok.tokenizer.encode_batch(list(texts))
    finally: tok.tokenizer.no_truncation()
    before_cut = []
    for text, e in zip(texts, encodings):
        lost = columns_cut(text, max(end for _, end in e.offsets))
        before_cut.append(features.index(lost[0]) if lost else len(features))
    return full, np.array(before_cut)

def test_far_more_columns_fit(houses, tok):
    plain_tokens, plain_cols = coverage(tok, KeyValueTemplate(houses.features).render(houses.frame), houses.features)
    tokens, cols = coverage(tok, make_template("key-value", houses).render(houses.frame), houses.features)
    print(f"\n[wide] plain:   {plain_tokens.mean():.1f} tokens/row, {np.mean(plain_tokens > MAX_LENGTH):.1%} cut at {MAX_LENGTH}, "
          f"{plain_cols.mean():.1f} of {len(houses.features)} columns before the cut")
    print(f"[wide] compact: {tokens.mean():.1f} tokens/row, {np.mean(tokens > MAX_LENGTH):.1%} cut at {MAX_LENGTH}, "
          f"{cols.mean():.1f} of {len(houses.features)} columns before the cut")
    assert tokens.mean() < 0.55 * plain_tokens.mean()
    assert cols.mean() > 1.6 * plain_cols.mean() and cols.min() > plain_cols.max()
    _, cols_256 = coverage(tok, make_template("key-value", houses).render(houses.frame), houses.features, 256)
    assert np.mean(cols_256 == len(houses.features)) > 0.5      # at 256 tokens most rows keep every column

def test_warning_names_lost_columns(houses, tok, tmp_path, caplog):
    texts = make_template("key-value", houses).render(houses.frame)
    with caplog.at_level(logging.WARNING, "mlx_modernbert"):
        tokenize_cached(texts, tok, MAX_LENGTH, "compact", tmp_path)
    first = caplog.records[-1].getMessage()
    assert f"rows longer than {MAX_LENGTH} tokens: {len(houses)} of {len(houses)}" in first
    assert "columns lost (rows): " in first and "and " in first
    named = [part.split(" (")[0] for part in first.split("columns lost (rows): ")[1].split(" and ")[0].split(", ")]
    assert len(named) == 12 and set(named) <= set(houses.features)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "mlx_modernbert"):          # read back from the cache: said again
        tokenize_cached(texts, tok, MAX_LENGTH, "compact", tmp_path)
    assert caplog.records[-1].getMessage() == first

def test_narrow_tables_keep_every_value():
    "A narrow table loses no value and no character: the fitted template only adds where numbers lie among the training rows."
    titanic = load_dataset("titanic")
    template = make_template("key-value", titanic)
    assert template.usual is None and template.max_chars is None and sorted(template.percentiles) == ["Age", "Fare"]
    plain = KeyValueTemplate(titanic.features).render(titanic.frame.head(20))
    fitted = template.render(titanic.frame.head(20))
    strip = lambda t: re.sub(r" \((?:very )?(?:low|high), (?:bottom|top) \d+%\)", "", t)
    assert [strip(t) for t in fitted] == plain and fitted != plain
