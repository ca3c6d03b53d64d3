"""Text vectors from the static tables of static_vectors.py, for e5_probe.py --features pieces|words:
pieces: the content tokens of komp_train.features (folded, no stop words) cut into the table's pieces (the pieces
folded the same way) by a Unigram Viterbi, and their vectors averaged; words: the mean vector of the text's words
that are not stop words."""
import json, os, re, unicodedata
from probe_paths import D  # noqa: E402  (also puts training/ on sys.path)
import numpy as np
from komp_train.features import content_tokens, is_stopword, normalize


class Unigram:
    """Viterbi segmentation of one word (prefixed with the metaspace) into the given pieces, max total log prob."""
    def __init__(self, pieces, scores):
        self.score = dict(zip(pieces, map(float, scores)))
        self.maxlen = max(map(len, pieces)); self.unk = min(self.score.values()) - 10

    def word(self, w):
        s = "▁" + w; n = len(s); best = [-1e30] * (n + 1); back = [None] * (n + 1); best[0] = 0.0
        for i in range(n):
            for e in range(i + 1, min(n, i + self.maxlen) + 1):
                sc = self.score.get(s[i:e])
                if sc is not None and best[i] + sc > best[e]:
                    best[e] = best[i] + sc; back[e] = (i, s[i:e])
            if best[i] + self.unk > best[i + 1]:
                best[i + 1] = best[i] + self.unk; back[i + 1] = (i, None)
        out, e = [], n
        while e > 0:
            i, p = back[e]; out.append(p); e = i
        return [p for p in out[::-1] if p is not None]


def _fold(piece):
    s = unicodedata.normalize("NFC", piece.replace("▁", " ")).lower()
    s = s.replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not 0x300 <= ord(c) <= 0x36F).replace(" ", "▁")


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
    pieces = sorted(best); tok = Unigram(pieces, [best[p][0] for p in pieces])
    def vec(r):
        ks = [best[p][1] for t in content_tokens(text(r)) for p in tok.word(t)]
        return E[ks].mean(0) if ks else np.zeros(E.shape[1])
    return vec
