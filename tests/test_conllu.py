"""CoNLL-U loader: ranges and empty nodes skipped, comments, trailing blank lines, column
choice, errors naming file and line, and writing predicted tags back."""
from pathlib import Path

import pytest

from rnnkit.data.conllu import parse_conllu, read_conllu, replace_conllu_tags

EWT = Path("/work/shared/data/ud_english_ewt")


def row(*fields):
    return "\t".join(fields)


# Two sentences: a multi-word token (2-3 "don't"), an empty node (4.1), comments before and
# inside the sentence block, and three blank lines at the end.
TEXT = "\n".join([
    "# newdoc id = d1",
    "# sent_id = s1",
    "# text = I don't know.",
    row("1", "I", "I", "PRON", "PRP", "_", "4", "nsubj", "_", "_"),
    row("2-3", "don't", "_", "_", "_", "_", "_", "_", "_", "_"),
    row("2", "do", "do", "AUX", "VBP", "_", "4", "aux", "_", "_"),
    row("3", "n't", "not", "PART", "RB", "_", "4", "advmod", "_", "_"),
    row("4", "know", "know", "VERB", "VB", "_", "0", "root", "_", "_"),
    row("4.1", "know", "know", "VERB", "VB", "_", "_", "_", "4:conj", "CopyOf=4"),
    row("5", ".", ".", "PUNCT", ".", "_", "4", "punct", "_", "_"),
    "",
    "# sent_id = s2",
    row("1", "Hi", "hi", "INTJ", "UH", "_", "0", "root", "_", "_"),
    "",
    "",
    "",
])


def test_words_tags_and_skipped_lines():
    sentences, tags = parse_conllu(TEXT)
    assert sentences == [["I", "do", "n't", "know", "."], ["Hi"]]
    assert tags == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["INTJ"]]


def test_xpos_column_and_no_final_blank_line():
    sentences, tags = parse_conllu(TEXT.rstrip("\n"), column="xpos")
    assert sentences[1] == ["Hi"]
    assert tags == [["PRP", "VBP", "RB", "VB", "."], ["UH"]]


def test_bom_crlf_and_whitespace_only_lines():
    text = "\ufeff" + TEXT.replace("\n\n", "\n  \n").replace("\n", "\r\n")
    assert parse_conllu(text) == parse_conllu(TEXT)


@pytest.mark.parametrize("bad, message", [
    (row("1", "I", "I", "PRON", "PRP", "_", "0", "root", "_"), "expected 10 tab-separated"),
    (row("x", "I", "I", "PRON", "PRP", "_", "0", "root", "_", "_"), "expected a word ID"),
    (row("2", "I", "I", "PRON", "PRP", "_", "0", "root", "_", "_"), "expected word ID 1"),
    (row("1", "I", "I", "_", "PRP", "_", "0", "root", "_", "_"), "no UPOS tag"),
    ("1 I I PRON PRP _ 0 root _ _", "expected 10 tab-separated"),
])
def test_malformed_rows_name_file_and_line(tmp_path, bad, message):
    path = tmp_path / "bad.conllu"
    path.write_text("# c\n" + row("1", "A", "a", "DET", "DT", "_", "0", "root", "_", "_")
                    + "\n\n" + bad + "\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        read_conllu(path)
    assert f"{path}:4" in str(info.value)


def test_missing_tags_allowed_for_tagging_and_bad_column():
    text = row("1", "Hi", "hi", "_", "_", "_", "0", "root", "_", "_") + "\n"
    assert parse_conllu(text, require_tags=False) == ([["Hi"]], [["_"]])
    with pytest.raises(ValueError, match="column must be one of"):
        parse_conllu(text, column="pos")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        read_conllu(tmp_path / "nope.conllu")
    (tmp_path / "empty.conllu").write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no sentences"):
        read_conllu(tmp_path / "empty.conllu")


def test_replace_tags_keeps_everything_else():
    new = [["A", "B", "C", "D", "E"], ["F"]]
    out = replace_conllu_tags(TEXT, new)
    assert parse_conllu(out)[1] == new
    assert parse_conllu(out, column="xpos") == parse_conllu(TEXT, column="xpos")
    lines_in, lines_out = TEXT.rstrip("\n").split("\n"), out.rstrip("\n").split("\n")
    changed = [a for a, b in zip(lines_in, lines_out) if a != b]
    assert len(lines_in) == len(lines_out) and len(changed) == 6      # the six word lines only
    with pytest.raises(ValueError, match="2 sentences"):
        replace_conllu_tags(TEXT, [["A"]])


def test_ud_english_ewt_dev_counts():
    path = EWT / "en_ewt-ud-dev.conllu"
    if not path.exists():
        pytest.skip(f"{path} not present (the inline cases above still run)")
    sentences, tags = read_conllu(path)
    # the README's counts: 2,001 sentences, 25,147 syntactic words; UPOS has 17 tags
    assert len(sentences) == 2001 and sum(map(len, sentences)) == 25147
    assert len({t for s in tags for t in s}) <= 17 and "_" not in {t for s in tags for t in s}
