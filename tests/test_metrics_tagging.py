"""Tagging metrics on hand-worked examples: token accuracy, conlleval-style entity P/R/F1."""
import pytest

from rnnkit.metrics.tagging import entity_f1, entity_scores, entity_spans, is_bio, token_accuracy


def test_token_accuracy_counts_tokens_not_sentences():
    gold = [["A", "B", "C"], ["D"]]
    pred = [["A", "X", "C"], ["D"]]
    assert token_accuracy(gold, pred) == pytest.approx(3 / 4)


def test_spans_of_regular_and_irregular_sequences():
    tags = [
        ["B-PER", "I-PER", "O", "B-LOC"],          # two entities, one at the end
        ["I-ORG", "I-ORG", "O", "I-PER"],          # I- without B- starts an entity (conlleval)
        ["B-PER", "B-PER", "I-PER"],               # B- after B- of the same type: a new one
        ["B-PER", "I-LOC", "I-LOC"],               # I- of another type: a new entity of that type
        ["O", "O"],
    ]
    assert entity_spans(tags) == {
        (0, 0, 2, "PER"), (0, 3, 4, "LOC"),
        (1, 0, 2, "ORG"), (1, 3, 4, "PER"),
        (2, 0, 1, "PER"), (2, 1, 3, "PER"),
        (3, 0, 1, "PER"), (3, 1, 3, "LOC"),
    }


def test_entity_scores_worked_example():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC", "B-LOC"], ["B-ORG", "O"]]
    # gold entities: PER(0-2), LOC(3-4), ORG(0-1)     = 3
    # predicted:     PER(0-1), LOC(3-4), LOC(4-5), ORG = 4
    # correct: LOC(3-4) and ORG (PER has the wrong end) = 2
    s = entity_scores(gold, pred)
    assert (s["correct"], s["predicted"], s["gold"]) == (2, 4, 3)
    assert s["precision"] == pytest.approx(2 / 4) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert s["per_type"]["LOC"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "gold": 1})
    assert s["per_type"]["PER"]["f1"] == 0.0 and s["per_type"]["ORG"]["f1"] == 1.0


def test_type_must_match_and_no_entities_gives_zero():
    assert entity_f1([["B-PER", "I-PER"]], [["B-ORG", "I-ORG"]]) == 0.0
    assert entity_scores([["O"]], [["O"]])["f1"] == 0.0
    assert entity_f1([["B-X"]], [["B-X"]]) == 1.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="sentence 0 has 2 gold tags and 1 predicted"):
        token_accuracy([["A", "B"]], [["A"]])
    with pytest.raises(ValueError, match="gold has 1 sentences, predictions have 2"):
        entity_scores([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match=r"tag 'NN' at sentence 0, token 1 is not BIO"):
        entity_scores([["O", "NN"]], [["O", "O"]])
    with pytest.raises(TypeError, match="got a str"):
        token_accuracy("AB", "AB")
    with pytest.raises(ValueError, match="no tokens"):
        token_accuracy([[]], [[]])


def test_is_bio():
    assert is_bio([["O", "B-PER", "I-PER"]]) and is_bio({"O", "B-x"})
    assert not is_bio([["NOUN", "O"]]) and not is_bio([])
