"""Which of multilingual-e5-small's 250,002 SentencePiece pieces komp keeps, written once to `keep.txt` (one piece
index per line, ascending) so that a build never has to tokenise the training letters again.

Kept: the four specials, every piece of one character (so no text falls apart into unknown pieces), every piece the
full vocabulary uses for the training side (the 19,200 generator letters of the shipped postsortering model, the
hand-written bank's train part and the validation bank), and the TOP most probable pieces written in Latin letters
and digits. Nothing the held-out bank or the realistic set needs is added on purpose: the cut is then tried on text
it was not made from (training/README.md, "Encoder probe, round 2": 33 of 40 held-out letters get the same pieces
as with the full vocabulary, and their embeddings a cosine >= 0.994 to the package's).

Run with the project venv from training/: `python encoder/vocabulary.py` (about 5 minutes, one core)."""
from __future__ import annotations

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
KEEP = os.path.join(HERE, "keep.txt")
TOP = 60000
LATIN = re.compile(r"^▁?[A-Za-z0-9ÆØÅæøåÄÖÜäöüÉéÈèÁáÀàÊêÔôÇç'’.,:;!?()/&%+-]+$")


def read_keep(path: str = KEEP) -> list[int]:
    """The kept piece indices, ascending; a damaged file is refused with the line that is wrong."""
    keep = []
    with open(path, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            try:
                keep.append(int(line))
            except ValueError:
                raise ValueError(f"{path}:{n}: {line.strip()!r} is not a piece index; rewrite the file with "
                                 "`python encoder/vocabulary.py`") from None
    if keep != sorted(set(keep)):
        raise ValueError(f"{path}: the piece indices are not strictly ascending; rewrite the file with "
                         "`python encoder/vocabulary.py`")
    return keep


def compute_keep() -> list[int]:
    sys.path[:0] = [TRAINING, HERE]
    import bank_data
    import e5_file
    import e5_onnx
    import gen_post
    import validation_bank
    from train_postsortering import N_TEST_PER_CLASS, N_TRAIN_PER_CLASS, SEED

    full = e5_onnx.tokenizer()
    gtrain, _ = gen_post.generate(SEED, N_TRAIN_PER_CLASS, N_TEST_PER_CLASS)
    bank_train, _ = bank_data.post_split()
    side = [m["subject"] + "\n" + m["body"] for m in gtrain + bank_train]
    side += [t[2] + "\n" + t[3] for t in validation_bank.POST + validation_bank.POST_HARD]
    used = set()
    for s in side:
        used.update(full.encode(s, "query: "))
    f = e5_file.read()
    latin = sorted((i for i, p in enumerate(f["pieces"]) if LATIN.match(p)), key=lambda i: -f["scores"][i])
    singles = {i for i, p in enumerate(f["pieces"]) if len(p) == 1}
    return sorted(used | {f["bos"], f["eos"], f["pad"], f["unk"]} | singles | set(latin[:TOP]))


if __name__ == "__main__":
    keep = compute_keep()
    with open(KEEP, "w", encoding="ascii") as out:
        out.writelines(f"{i}\n" for i in keep)
    print(f"{KEEP}: {len(keep)} pieces")
