"""Where the probe's scripts find the project's training code and keep their data ($E5_PROBE_DIR, by default
target/e5-probe/). Importing it also puts training/ and training/encoder/ on sys.path and keeps Python from writing bytecode there."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.normpath(os.path.join(_HERE, "..", ".."))
D = os.environ.get("E5_PROBE_DIR", os.path.join(TRAINING, "..", "target", "e5-probe"))
os.makedirs(D, exist_ok=True)
sys.dont_write_bytecode = True
for _p in (TRAINING, os.path.join(TRAINING, "encoder")):   # e5_file and e5_onnx live in training/encoder/
    if _p not in sys.path:
        sys.path.insert(0, _p)
