"""Vocabulary: exact char round trips, word <UNK>/<EOS> rules, deterministic ids, serialisation."""
import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.vocab import BOS, EOS, PAD, UNK, Vocabulary, tokenize_words

SHAKESPEARE = Path("/work/shared/data/tinyshakespeare/input.txt")

# Inline so the round-trip tests never only skip; with punctuation, apostrophes, blank lines.
PASSAGE = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?

All:
Resolved. resolved.

First Citizen:
First, you know Caius Marcius is chief enemy to the people.

All:
We know't, we know't.
"""


def shakespeare_head() -> str:
    if not SHAKESPEARE.exists():
        pytest.skip(f"{SHAKESPEARE} not present (the inline-passage tests still run)")
    return SHAKESPEARE.read_text(encoding="utf-8")[:2000]


# ---- character level ------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["inline", "shakespeare", "unicode"])
def test_char_round_trip_is_exact(source):
    text = {"inline": lambda: PASSAGE, "shakespeare": shakespeare_head,
            "unicode": lambda: "naïve café — Ωμέγα 日本語 🙂\r\n\ttab\n"}[source]()
    vocab = Vocabulary.build_chars(text)
    ids = vocab.encode_text(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert vocab.decode_text(ids) == text
    assert "".join(vocab.decode(ids)) == text
    assert len(vocab) == len(set(text))


def test_char_ids_sorted_by_code_point_and_newline_is_eos():
    vocab = Vocabulary.build_chars("ba\nc a")
    assert vocab.tokens == ("\n", " ", "a", "b", "c")
    assert vocab.eos_id == 0 and vocab.id_of("\n") == 0
    assert vocab.unk_id is None and vocab.pad_id is None
    np.testing.assert_array_equal(vocab.encode("cab\n"), [4, 2, 3, 0])
    assert Vocabulary.build_chars("abc").eos_id is None  # no newline in the text: no EOS


def test_char_unknown_character_is_a_clear_error():
    vocab = Vocabulary.build_chars("hello world")
    with pytest.raises(ValueError, match=r"character 'é' \(U\+00E9\) at position 3"):
        vocab.encode("helé")
    with pytest.raises(ValueError, match="'Z'"):
        vocab.id_of("Z")


def test_char_unknown_maps_to_unk_when_present():
    vocab = Vocabulary.build_chars("abc", specials=(PAD, UNK))
    assert (vocab.pad_id, vocab.unk_id) == (0, 1)
    np.testing.assert_array_equal(vocab.encode("axc"), [2, 1, 4])
    assert vocab.decode_text([0, 2, 3, 0]) == "ab"  # padding dropped


@pytest.mark.parametrize("specials, match", [
    ((EOS,), "newline"), (("x",), "single character"), ((UNK, UNK), "duplicate")])
def test_char_bad_specials(specials, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary.build_chars("abc", specials=specials)


# ---- word level -----------------------------------------------------------------------------

def test_tokenize_words_rule():
    assert tokenize_words("First Citizen:\n\n  We know't, we  know't.\n") == [
        ["First", "Citizen", ":"], ["We", "know't", ",", "we", "know't", "."]]
    assert tokenize_words("well-known 'tis 3.5") == [
        ["well", "-", "known", "'", "tis", "3", ".", "5"]]
    assert tokenize_words("") == []


def test_word_default_specials_and_eos_per_line():
    vocab = Vocabulary.build_words(tokenize_words(PASSAGE))
    assert (vocab.pad_id, vocab.unk_id, vocab.eos_id, vocab.bos_id) == (0, 1, 2, None)
    ids = vocab.encode_text("All:\nSpeak, speak.\n")
    assert vocab.decode(ids) == ["All", ":", EOS, "Speak", ",", "speak", ".", EOS]
    assert vocab.decode_text(ids) == "All :\nSpeak , speak .\n"
    assert vocab.decode_text([0, *ids.tolist(), 0]) == "All :\nSpeak , speak .\n"


def test_word_round_trip_on_tokens():
    sentences = tokenize_words(PASSAGE)
    vocab = Vocabulary.build_words(sentences)
    for s in sentences:
        assert vocab.decode(vocab.encode(s)) == s
    assert UNK not in vocab.decode(vocab.encode_text(PASSAGE))


def test_word_min_count_max_size_and_ties():
    tokens = "c a b a b c d b e e".split()  # counts: b3, a2, c2, e2, d1; a c e tie, a seen first
    vocab = Vocabulary.build_words(tokens)
    assert vocab.tokens == (PAD, UNK, EOS, "b", "c", "a", "e", "d")  # c before a: first seen
    v2 = Vocabulary.build_words(tokens, min_count=2)
    assert v2.tokens == (PAD, UNK, EOS, "b", "c", "a", "e")
    np.testing.assert_array_equal(v2.encode(["d", "b", "zz"]), [1, 3, 1])
    v3 = Vocabulary.build_words(tokens, max_size=5)  # size counts the 3 specials
    assert len(v3) == 5 and v3.tokens[3:] == ("b", "c")
    assert v3.decode(v3.encode(["a", "c", "e"])) == [UNK, "c", UNK]


def test_word_ids_are_deterministic():
    sentences = tokenize_words(PASSAGE)
    a = Vocabulary.build_words(sentences, min_count=2)
    b = Vocabulary.build_words([list(s) for s in sentences], min_count=2)
    assert a == b and hash(a) == hash(b)
    # the same words fed flat, and sentences: identical
    assert Vocabulary.build_words([t for s in sentences for t in s], min_count=2) == a


def test_word_errors():
    with pytest.raises(ValueError, match="tokenize_words"):
        Vocabulary.build_words("a raw string")
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build_words(["a"], min_count=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocabulary.build_words(["a"], max_size=2)  # fewer than the 3 specials
    with pytest.raises(ValueError, match="no <UNK>"):
        Vocabulary.build_words(["a", "a", "b"], min_count=2, specials=(PAD,))
    vocab = Vocabulary.build_words(["a", "b"], specials=(PAD, BOS, EOS))
    assert vocab.bos_id == 1
    with pytest.raises(ValueError, match="token 'c' at position 1"):
        vocab.encode(["a", "c"])
    with pytest.raises(ValueError, match="encode_text"):
        vocab.encode("a b")
    with pytest.raises(ValueError, match="expected str tokens, got list at position 0"):
        Vocabulary.build_words(["a"]).encode([["a"]])


def test_decode_and_token_of_errors():
    vocab = Vocabulary.build_words(["a", "b"])
    assert vocab.token_of(3) == "a" and vocab.id_of("b") == 4
    assert "a" in vocab and "z" not in vocab and 3 not in vocab
    with pytest.raises(ValueError, match="id 5 at position 1 is outside 0..4"):
        vocab.decode([3, 5])
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([-1])
    with pytest.raises(ValueError, match="shape"):
        vocab.decode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="dtype"):
        vocab.decode(np.array([1.0]))
    with pytest.raises(ValueError, match="outside"):
        vocab.token_of(5)
    assert vocab.decode([]) == [] and vocab.encode([]).dtype == np.int64


# ---- serialisation --------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: Vocabulary.build_chars("héllo wörld 🙂\n", specials=(PAD, UNK)),
    lambda: Vocabulary.build_chars(PASSAGE),
    lambda: Vocabulary.build_words(tokenize_words(PASSAGE + "Ωμέγα café"), min_count=2),
])
def test_to_dict_from_dict_round_trip_through_json(make):
    vocab = make()
    d = json.loads(json.dumps(vocab.to_dict()))
    back = Vocabulary.from_dict(d)
    assert back == vocab and back.tokens == vocab.tokens and back.level == vocab.level
    assert (back.pad_id, back.unk_id, back.eos_id) == (vocab.pad_id, vocab.unk_id, vocab.eos_id)


def _broken(**changes):
    d = Vocabulary.build_words(["a", "b"]).to_dict()
    for k, v in changes.items():
        if v is KeyError:
            del d[k]
        else:
            d[k] = v
    return d


@pytest.mark.parametrize("d, match", [
    ([1, 2], "expected a dict"),
    (_broken(format="other"), "format"),
    (_broken(version=99), "newer"),
    (_broken(version="1"), "version"),
    (_broken(level="byte"), "level"),
    (_broken(tokens=KeyError), "missing key 'tokens'"),
    (_broken(tokens="abc"), "as a list"),
    (_broken(tokens=[PAD, UNK, EOS, "a", "a"]), "duplicate"),
    (_broken(tokens=[PAD, UNK, EOS, "a", 7]), "non-empty str"),
    (_broken(tokens=["a", PAD, UNK, EOS]), "start with the specials"),
    (_broken(level="char"), "single characters|no <EOS>"),
])
def test_from_dict_rejects_malformed(d, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary.from_dict(d)
