"""CoNLL-style NER loader: tab and space columns, -DOCSTART-, IOB1 -> IOB2, errors with file and
line, format sniffing and writing tags back."""
from pathlib import Path

import pytest

from rnnkit.data.conll import (parse_conll, read_conll, read_tagged_file, replace_conll_tags,
                               sniff_format, to_iob2)
from rnnkit.metrics.tagging import entity_spans

WNUT = Path("/work/shared/data/ner_wnut17")
WIKIGOLD = Path("/work/shared/data/ner_wikigold/wikigold.conll.txt")

# wikigold's quirks: space-separated, IOB1 with only I- tags, -DOCSTART- between documents and
# at the very end, and two adjacent blank lines.
WIKI = """Japan I-LOC
's O
Sony I-ORG
Corp I-ORG
. O

-DOCSTART- O

Ann I-PER
left O


-DOCSTART- O

"""

WNUT_LIKE = "Empire\tB-location\nState\tI-location\n=\tO\nESB\tB-location\n\n@paul\tO\n"


def test_space_columns_docstart_and_iob1_to_iob2():
    sentences, tags = parse_conll(WIKI)
    assert sentences == [["Japan", "'s", "Sony", "Corp", "."], ["Ann", "left"]]
    assert tags == [["B-LOC", "O", "B-ORG", "I-ORG", "O"], ["B-PER", "O"]]
    # the conversion is how conlleval reads I- tags anyway: the entities are unchanged
    raw = [["I-LOC", "O", "I-ORG", "I-ORG", "O"], ["I-PER", "O"]]
    assert entity_spans(raw) == entity_spans(tags)


def test_tab_columns_and_no_trailing_blank_line():
    sentences, tags = parse_conll(WNUT_LIKE)
    assert sentences == [["Empire", "State", "=", "ESB"], ["@paul"]]
    assert tags == [["B-location", "I-location", "O", "B-location"], ["O"]]


def test_to_iob2_cases():
    assert to_iob2(["I-A", "I-A", "I-B", "O", "I-A", "B-A", "I-A"]) == \
        ["B-A", "I-A", "B-B", "O", "B-A", "B-A", "I-A"]


def test_non_bio_labels_are_kept_and_bio_is_checked(tmp_path):
    pos = "The DT\ncat NN\n"
    assert parse_conll(pos)[1] == [["DT", "NN"]]
    with pytest.raises(ValueError, match=r"<string>:2: tag 'NN' is not BIO"):
        parse_conll(pos.replace("DT", "B-X"), scheme="bio")


@pytest.mark.parametrize("bad, message", [
    ("Tokenonly", "expected a token and a tag"),
    ("a b c", "expected 2 columns"),
    ("a\t\tO", "expected 2 columns"),
])
def test_malformed_rows_name_file_and_line(tmp_path, bad, message):
    path = tmp_path / "bad.conll"
    path.write_text("-DOCSTART- O\n\nA O\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        read_conll(path)
    assert f"{path}:4" in str(info.value)


def test_token_only_lines_when_tagging_and_write_back():
    sentences, tags = parse_conll("Hello\nworld\n\nBye\n", require_tags=False)
    assert sentences == [["Hello", "world"], ["Bye"]] and tags == [["O", "O"], ["O"]]
    out = replace_conll_tags("Hello\nworld\n\nBye\n", [["B-X", "O"], ["O"]])
    assert out == "Hello\tB-X\nworld\tO\n\nBye\tO\n"
    out = replace_conll_tags(WIKI, [["O"] * 5, ["B-PER", "I-PER"]])
    assert "Ann B-PER\nleft I-PER\n" in out and out.count("-DOCSTART- O") == 2
    with pytest.raises(ValueError, match="7 tokens"):
        replace_conll_tags(WIKI, [["O"]])


def test_sniff_and_read_either_format(tmp_path):
    conllu = tmp_path / "x.txt"
    conllu.write_text("# c\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    conll = tmp_path / "y.txt"
    conll.write_text(WNUT_LIKE, encoding="utf-8")
    assert sniff_format(conllu) == "conllu" and sniff_format(conll) == "conll"
    assert read_tagged_file(conllu, column="xpos") == ([["Hi"]], [["UH"]], "conllu")
    assert read_tagged_file(conll)[2] == "conll"
    with pytest.raises(ValueError, match="format must be one of"):
        read_tagged_file(conll, format="csv")


@pytest.mark.parametrize("name, sentences, tokens", [
    ("wnut17train.conll", 3394, 62730), ("emerging.dev.conll", 1009, 15733),
    ("emerging.test.annotated", 1287, 23394)])
def test_wnut17_counts(name, sentences, tokens):
    path = WNUT / name
    if not path.exists():
        pytest.skip(f"{path} not present (the inline cases above still run)")
    s, t = read_conll(path)
    assert len(s) == sentences and sum(map(len, s)) == tokens       # the README's table
    assert {x[2:] for sent in t for x in sent if x != "O"} == {
        "person", "location", "corporation", "product", "creative-work", "group"}


def test_wikigold_counts():
    if not WIKIGOLD.exists():
        pytest.skip(f"{WIKIGOLD} not present (the inline cases above still run)")
    s, t = read_conll(WIKIGOLD)
    # 1,841 blank-line blocks minus the 145 -DOCSTART- blocks; 39,152 lines minus 145
    assert len(s) == 1841 - 145 and sum(map(len, s)) == 39152 - 145
    assert any(x.startswith("B-") for sent in t for x in sent)
