"""The signed operating point of each standard component (komp_artifact::OperatingPoint in artifact/src/
operating_point.rs): what the decision threshold means, the value the component uses itself, and the range within
which a municipality may set its own (`PUT /v1/components/{name}/operating-point`). Derived from the model card
written by write_manifests.py, so the default is always the threshold the component was built with."""


def build(name: str, card: dict) -> dict:
    op, m = card["operating_point"], card["metrics"]
    if name == "postsortering":
        t = op["review_threshold"]
        ok = [r["threshold"] for r in m["coverage_vs_accuracy"] if (r["accuracy_auto_routed"] or 0) >= 0.95]
        return {
            "rule": {"kind": "review_below_top_score", "also_review_when_details_has": ["out_of_distribution"]},
            "default": t,
            "min": min(ok + [t]),
            "max": 0.99,
            "reasoning": "Mail whose top probability is below the threshold goes to manual sorting (mail the model "
                         "does not know always does). A municipality may sort more by hand (up to 0.99), or less, "
                         "down to the lowest threshold at which automatically routed test mail is still at least 95% "
                         "correct; it should cite its own validation report when it lowers the threshold.",
            "details": {"threshold": "review_threshold",
                        "decision": {"key": "route", "when_true": "manual-sorting", "when_false": "automatic"}},
        }
    if name == "underretning":
        t = op["threshold"]
        return {
            "rule": {"kind": "positive_label_at_or_above", "label": "acute", "otherwise": "not_acute"},
            "default": t,
            "min": min([r["threshold"] for r in m["threshold_table"]] + [t]),
            "max": t,
            "reasoning": "The default is the largest threshold that keeps recall of acute notifications at or above "
                         "0.95, the floor the approver accepted, so a municipality may only lower it (flag more "
                         "notifications, never fewer), down to the lowest threshold evaluated in the model card.",
            "details": {"threshold": "operating_threshold",
                        "decision": {"key": "acute", "when_true": True, "when_false": False}},
        }
    raise SystemExit(f"operating_point: no declaration for component {name!r}")
