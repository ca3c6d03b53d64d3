"""komp_train.sentencepiece against the committed fixtures (sdk/tests/fixtures/sentencepiece.json, written
from the encoder's own vocabulary and checked against its engine's piece counts), and its refusals.

Run: .venv/bin/python -m pytest -q training/tests (scripts/test.sh does). The Rust twin is checked on the same file
by sdk/tests/sentencepiece_fixtures.rs."""
from __future__ import annotations

import json
import os

import pytest

from komp_train.sentencepiece import METASPACE, TokenizerError, Unigram

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "sdk", "tests", "fixtures", "sentencepiece.json")


@pytest.fixture(scope="module")
def fx():
    with open(FIXTURES, encoding="utf-8") as f:
        return json.load(f)


def tokenizer(fx) -> Unigram:
    return Unigram(fx["pieces"], fx["scores"], fx["normalization"], fx["bos"], fx["eos"], fx["unk"])


def test_pieces_equal_the_fixtures(fx):
    tok = tokenizer(fx)
    assert len(fx["cases"]) > 100
    for case in fx["cases"]:
        assert tok.content(case["text"]) == case["ids"], case["text"][:60]
        assert tok.encode(case["text"], "query: ", 32) == case["encoded"], case["text"][:60]


def test_the_fixtures_exercise_normalisation_unknowns_and_truncation(fx):
    tok = tokenizer(fx)
    by_text = {c["text"]: c for c in fx["cases"]}
    # a ligature, a tab and a line feed are normalised; runs of spaces collapse; a leading space is kept as one
    assert tok.normalize("ﬁ\tx") == METASPACE + "fi" + METASPACE + "x"
    assert tok.normalize("a  \n b") == METASPACE + "a" + METASPACE + "b"
    assert tok.normalize(" a") == METASPACE + "a"
    assert tok.normalize("") == METASPACE
    # characters the vocabulary lacks become the unknown piece, one per code point
    assert fx["unk"] in by_text["ukendte tegn \ue000 og \U00013000"]["ids"]
    # the special pieces' text is not special: "<unk>" is never matched as text
    assert fx["unk"] not in by_text["<s> </s> <unk> <pad>"]["ids"]
    long = max(fx["cases"], key=lambda c: len(c["ids"]))
    assert len(long["ids"]) > 32 and len(long["encoded"]) == 34
    assert long["encoded"][0] == fx["bos"] and long["encoded"][-1] == fx["eos"]


def test_bad_vocabularies_are_refused_with_the_reason():
    with pytest.raises(TokenizerError, match="2 pieces but 1 scores"):
        Unigram(["a", "b"], [0.0], {}, 0, 0, 1)
    with pytest.raises(TokenizerError, match="unk = 5 is not a piece index"):
        Unigram(["a", "b"], [0.0, 0.0], {}, 0, 1, 5)
    with pytest.raises(TokenizerError, match="piece 1 is empty"):
        Unigram(["a", ""], [0.0, 0.0], {}, 0, 0, 0)
    with pytest.raises(TokenizerError, match="has the score inf"):
        Unigram(["a", "b"], [0.0, float("inf")], {}, 0, 0, 0)
    with pytest.raises(TokenizerError, match="not one code point"):
        Unigram(["a"], [0.0], {"ab": "c"}, 0, 0, 0)
