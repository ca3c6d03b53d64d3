"""The peer stack of the HTTP benchmark: what a municipality would run instead of komp.

FastAPI + uvicorn + onnxruntime serving the same two ONNX models with the same
pre-processing (komp_train.features in training/komp_train, the Python twin of komp_sdk::text),
the same input validation (pydantic models mirroring the manifests' input
schemas), the same post-processing (top label, scores, the words that decided)
and a response of the same shape. It has no sandbox, no authentication, no
rate limits and no audit log: it is the fast case for the peer.

    uvicorn --app-dir benches/peers server:app --host 127.0.0.1 --port 8091 --workers N
"""
from __future__ import annotations

import json
import math
import os
import uuid
from typing import Literal, Optional

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from komp_train import features as kf  # installed editable by training/setup.sh

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

MODELS = os.path.join(ROOT, "components", "models")
DIM = 16384
THREADS = int(os.environ.get("PEER_ORT_THREADS", "1"))


def session(name: str) -> ort.InferenceSession:
    o = ort.SessionOptions()
    o.intra_op_num_threads = THREADS
    o.inter_op_num_threads = 1
    return ort.InferenceSession(os.path.join(MODELS, name + ".onnx"), o, providers=["CPUExecutionProvider"])


POST_META = json.load(open(os.path.join(MODELS, "postsortering.meta.json")))
UNDER_META = json.load(open(os.path.join(MODELS, "underretning.meta.json")))
POST = session("postsortering")
UNDER = session("underretning")
POST_LABELS = [l["id"] for l in POST_META["labels"]]
SENDERS = POST_META["sender"]["order"]
REVIEW_BELOW = POST_META["review_threshold"]["value"]
STRUCTURED = UNDER_META["structured_features"]["order"]
THRESHOLD = UNDER_META["operating_threshold"]["value"]
CUTS = UNDER_META["risk_levels"]["cut_points"]
REPORTERS = ["school", "daycare", "health_visitor", "police", "hospital", "gp", "relative", "anonymous", "social_services", "neighbour", "other"]

app = FastAPI()


def sparse(text: str) -> tuple[dict, np.ndarray]:
    """The models' sparse text input (docs/text-features.md, "Model input") and the ids in order."""
    d = kf.sparse_features(text, DIM)
    ids = np.array(sorted(d), dtype=np.int64)
    return {"feature_ids": ids, "feature_values": np.array([d[i] for i in ids], dtype=np.float64).astype(np.float32)}, ids


def word_contributions(text: str, ids: np.ndarray, contributions: np.ndarray) -> list[tuple[str, float]]:
    """Same grouping as komp_sdk::text::HashedText::word_contributions (one contribution per id)."""
    by_id = dict(zip(ids.tolist(), contributions.tolist()))
    marked = kf.marked_content_tokens(text)
    toks = [t for t, _ in marked]
    suffix = {"n": " (nægtet)", "h": " (fortid)", "w": ""}
    feats: list[tuple[int, float, str, str]] = []
    for i, (t, m) in enumerate(marked):
        feats.append((i, 1.0, m + "=" + t, t + suffix[m]))
    for i, (a, b) in enumerate(zip(toks, toks[1:])):
        feats.append((i, 1.0, "b=" + a + " " + b, a + " " + b))
    for i, (t, m) in enumerate(marked):
        w = "<" + t + ">"
        for j in range(len(w) - 2):
            feats.append((i, 0.5, "c=" + w[j:j + 3], t + suffix[m]))
    raw: dict[int, float] = {}
    rows = []
    for _, wt, f, key in feats:
        h = kf.fnv1a64(f)
        idx = h & (DIM - 1)
        v = (-1.0 if (h >> 63) & 1 else 1.0) * wt
        raw[idx] = raw.get(idx, 0.0) + v
        rows.append((idx, v, key))
    grouped: dict[str, float] = {}
    for idx, v, key in rows:
        total = raw[idx]
        if total == 0.0:
            continue
        grouped[key] = grouped.get(key, 0.0) + by_id[idx] * v / total
    return sorted(grouped.items(), key=lambda kv: (-abs(kv[1]), kv[0]))


def answer(name: str, label: str, scores: list[tuple[str, float]], review: bool, expl, n: int, details: dict) -> dict:
    return {
        "request_id": uuid.uuid4().hex,
        "component": name,
        "version": "1.0.0",
        "prediction": {
            "label": label,
            "scores": [{"label": l, "score": s} for l, s in sorted(scores, key=lambda x: -x[1])],
            "requires_human_review": review,
            "explanation": [{"feature": f, "weight": w} for f, w in expl[:n]],
            "details": details,
        },
    }


class Mail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(max_length=2000)
    body: str = Field(max_length=100000)
    sender_type: Optional[Literal["citizen", "business", "authority", "internal"]] = None


@app.post("/v1/components/postsortering/predict")
def postsortering(mail: Mail) -> dict:
    text = mail.subject + "\n" + mail.body
    feeds, ids = sparse(text)
    s = np.zeros((1, len(SENDERS)), np.float32)
    if mail.sender_type in SENDERS:
        s[0, SENDERS.index(mail.sender_type)] = 1.0
    probs, contrib, sender_contrib = POST.run(["probabilities", "contributions", "sender_contributions"], {**feeds, "sender": s})
    p = probs[0]
    top = int(np.argmax(p))
    expl = word_contributions(text, ids, contrib)
    for i, c in enumerate(sender_contrib[0]):
        if s[0, i] != 0.0:
            expl.append(("sender_type=" + SENDERS[i], float(c)))
    expl.sort(key=lambda kv: -abs(kv[1]))
    review = float(p[top]) < REVIEW_BELOW
    return answer("postsortering", POST_LABELS[top], list(zip(POST_LABELS, map(float, p))), review, expl, 10,
                  {"route": "manual-sorting" if review else "automatic", "review_threshold": REVIEW_BELOW, "model_version": POST_META["version"]})


class Notification(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=100000)
    reporter_type: str
    child_age: int = Field(ge=0, le=25)
    prior_notifications_12m: int = Field(ge=0)
    known_to_municipality: bool


@app.post("/v1/components/underretning/predict")
def underretning(n: Notification) -> dict:
    feeds, ids = sparse(n.text)
    age = min(max(n.child_age, 0), 17)
    rep = n.reporter_type if n.reporter_type in REPORTERS else "other"
    vals = {"age_0_2": age <= 2, "age_3_5": 3 <= age <= 5, "age_6_12": 6 <= age <= 12, "age_13_17": 13 <= age <= 17,
            "prior_notifications_capped": min(max(n.prior_notifications_12m, 0), 5) / 5, "known_to_municipality": n.known_to_municipality}
    s = np.array([[float(vals.get(k, k == "reporter_" + rep)) for k in STRUCTURED]], np.float32)
    prob, tc, sc = UNDER.run(["probability", "text_contributions", "structured_contributions"], {**feeds, "structured": s})
    p = float(prob.reshape(-1)[0])
    expl = word_contributions(n.text, ids, tc)
    for i, c in enumerate(sc[0]):
        if s[0, i] != 0.0:
            expl.append((STRUCTURED[i], float(c)))
    expl.sort(key=lambda kv: -abs(kv[1]))
    acute = p >= THRESHOLD
    level = "acute" if p >= CUTS["acute"] else "high" if p >= CUTS["high"] else "medium" if p >= CUTS["medium"] else "low"
    return answer("underretning", "acute" if acute else "not_acute", [("acute", p), ("not_acute", 1 - p)], True, expl, 12,
                  {"acute": acute, "probability_acute": p, "risk_level": level, "operating_threshold": THRESHOLD,
                   "explanation_direction": "positive weights push towards acute", "model_version": UNDER_META["version"]})
