"""Labelled text lines: the last tab splits, U+0085 stays inside a line, malformed lines name file and line."""
from pathlib import Path

import pytest

from rnnkit.data.labelled_text import load_labelled_text

SENTIMENT = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment"


def test_last_tab_quotes_and_u0085(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes('He said "wow"\tand left.  \t1\n\nA\u0085B is fine\t0\r\nno\ttabs\there\tpos\n'.encode())
    sentences, labels = load_labelled_text(path)
    assert sentences == ['He said "wow"\tand left.', "A\u0085B is fine", "no\ttabs\there"]
    assert labels == ["1", "0", "pos"]


@pytest.mark.parametrize("content, message", [
    (b"good\t1\nno tab here\n", "line 2: expected 'sentence<TAB>label', found no tab"),
    (b"good\t1\n\t0\n", "line 2: empty sentence"),
    (b"good\t \n", "line 1: empty label"),
    (b"\n\n", "no 'sentence<TAB>label' lines"),
    (b"good\t1\nbad \xff\t0\n", "line 2: not UTF-8"),
])
def test_malformed(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as e:
        load_labelled_text(path)
    assert str(path) in str(e.value)
    with pytest.raises(ValueError, match="cannot read"):
        load_labelled_text(tmp_path / "missing.txt")


@pytest.mark.skipif(not SENTIMENT.exists(), reason="../shared/data/sentiment is not present")
def test_uci_files():
    for name in ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt"):
        sentences, labels = load_labelled_text(SENTIMENT / name)
        assert len(sentences) == 1000 and labels.count("1") == 500 and set(labels) == {"0", "1"}
    sentences, _ = load_labelled_text(SENTIMENT / "imdb_labelled.txt")
    assert any("\u0085" in s for s in sentences)          # str.splitlines would have broken these
