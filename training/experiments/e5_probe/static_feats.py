"""Text vectors from the static tables of static_vectors.py, for e5_probe.py --features pieces|words:
pieces: the content tokens of komp_train.features (folded, no stop words) cut into the table's pieces (the pieces
folded the same way) by a Unigram Viterbi, and their vectors averaged; words: the mean vector of the text's words
that are not stop words."""
import json, os, re
from probe_paths import D  # noqa: E402  (also puts training/ on sys.path)
import numpy as np
from komp_train.features import _folded, content_tokens, is_stopword, normalize
from komp_train.sentencepiece import Unigram


def segmenter(pieces, scores):
    """Pieces of one word (a content token): komp_train.sentencepiece over the table's pieces, with no normalisation
    map and an unknown piece added at the end, whose pieces are dropped."""
    tok = Unigram(list(pieces) + ["<unk>"], list(scores) + [min(scores)], {}, 0, 0, len(pieces))
    return lambda w: [pieces[k] for k in tok.content(w) if k != tok.unk]


def _fold(piece):
    """Steps 1-5 of docs/text-features.md on a piece (the metaspace passes through them unchanged)."""
    return "".join(c for c in _folded(piece) if not 0x300 <= ord(c) <= 0x36F)


def load(kind):
    meta = json.load(open(os.path.join(D, f"static_{kind}.json"))); E = np.load(os.path.join(D, f"static_{kind}.npy"))
    text = lambda r: r["subject"] + "\n" + r["body"]
    if kind == "words":
        idx = {w: k for k, w in enumerate(meta["items"])}
        def vec(r):
            ks = [idx[w] for w in re.findall(r"[^\W_]+", text(r).lower())
                  if w in idx and not all(is_stopword(t) for t in normalize(w).split())]
            return E[ks].mean(0) if ks else np.zeros(E.shape[1])
        return vec
    best = {}   # folded piece -> (score, row): the most probable spelling wins
    for k, (p, s) in enumerate(zip(meta["items"], meta["scores"])):
        f = _fold(p)
        if re.fullmatch(r"▁?[a-z0-9]+", f) and (f not in best or s > best[f][0]):
            best[f] = (s, k)
    pieces = sorted(best); word = segmenter(pieces, [best[p][0] for p in pieces])
    def vec(r):
        ks = [best[p][1] for t in content_tokens(text(r)) for p in word(t)]
        return E[ks].mean(0) if ks else np.zeros(E.shape[1])
    return vec
