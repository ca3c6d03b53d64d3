"""Synthetic mail generator for the postsortering component. All data is synthetic."""
from __future__ import annotations

import random

import gen_common as gc
import post_free as pf
import post_inbox as pi
from post_data import (AUTHORITY_PREFIX, AUTHORITY_SIG, BUSINESS_SIG, CLASSES, CLOSINGS_FORMAL,
                       CLOSINGS_INFORMAL, FILLERS, GENERIC_SUBJECTS, GREETINGS_FORMAL, GREETINGS_INFORMAL,
                       INTERNAL_PREFIX, INTERNAL_SIG, OPENERS, SIGN_SUFFIX, WRAP_SLOTS)

LABELS = list(CLASSES.keys())
SENDER_TYPES = ["citizen", "business", "authority", "internal"]
N_FAMILIES = 3        # template families per subject: family j = j-th phrasing of every topic
N_TEST_FAMILIES = 1   # per subject, held out completely
P_ENGLISH = 0.08      # share of mails written in English (expats)
P_ONELINER = 0.06     # SMS-style one-liners
P_SIDE = 0.18         # main request + a side mention of another subject
P_NOISY_SIG = 0.15    # signature/disclaimer with words of other subjects
P_FORWARD = 0.10      # forwarded by a colleague of an unrelated department
P_QUOTED = 0.07       # reply on top of a quoted answer
P_FREE = 0.40           # the first request is a free-text one (post_free.py) instead of a topic template
P_SECOND_REQUEST = 0.10  # a second, minor request of another subject after the main one
# Another subject's background told before the main request (the request decides). Measured at 0.12 in the request
# round and not shipped (training/README.md); 0 keeps the random stream, and so the shipped model, unchanged.
P_BACKGROUND = 0.0


def family_split(seed: int) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    rng = random.Random(seed * 1000 + 17)
    train, test = {}, {}
    for lab in LABELS:
        tr, te = gc.split_families(rng, [f"{lab}/f{j}" for j in range(N_FAMILIES)], N_TEST_FAMILIES)
        train[lab], test[lab] = tr, te
    return train, test


def _choice_w(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights.keys())
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def make_mail(rng: random.Random, label: str, family: str, fams: dict | None = None) -> dict:
    c = CLASSES[label]
    slots = dict(WRAP_SLOTS)
    slots.update(pi.INBOX_SLOTS)
    slots["myndighed"] = WRAP_SLOTS["myndighed"] + pi.MYNDIGHEDER2
    slots.update(c["slots"])
    j = int(family.rsplit("/f", 1)[1])
    topic_ids = list(c["topics"])
    topics = rng.sample(topic_ids, rng.choices([1, 2, 3], weights=[0.72, 0.23, 0.05])[0])
    fam_subjects = [c["topics"][t][0][j] for t in topics[:1]]
    fam_bodies = [c["topics"][t][1][j] for t in topics]
    if rng.random() < P_FREE:  # a free-text request of the same subject and family instead of the first topic's
        fam_bodies[0] = rng.choice(pf.family_sentences(pf.FREE, label, j, N_FAMILIES)
                                   + pf.family_sentences(pf.FREE2, label, j, N_FAMILIES))
    sender = _choice_w(rng, c["senders"])
    informal = sender == "citizen" and rng.random() < 0.55
    style = gc.draw_style(rng, informal)
    fixed = {k: rng.choice(v) for k, v in c["slots"].items()}  # one object per mail, consistent
    F = lambda t: gc.cap(gc.fill(t, rng, slots, fixed))  # noqa: E731

    # subject
    r = rng.random()
    if r < 0.55:
        subject = F(rng.choice(fam_subjects))
    elif r < 0.75:
        subject = F(rng.choice(c["subjects"]))
    else:
        subject = F(rng.choice(GENERIC_SUBJECTS))
    r = rng.random()
    if r < 0.1:
        subject = "SV: " + subject
    elif r < 0.15:
        subject = "VS: " + subject
    elif r < 0.18:
        subject = "Re: " + subject
    if informal and rng.random() < 0.3:
        subject = subject.lower()

    # body
    kind = rng.random()
    if kind < P_ENGLISH:  # an expat writes in English
        return _english_mail(rng, label, j, slots, fixed, family, topics[0])
    if kind < P_ENGLISH + P_ONELINER:  # a one-liner: SMS style, maybe no subject
        s = F(rng.choice(fam_bodies)).split(". ")[0].rstrip(".?!")
        s = s[0].lower() + s[1:] if rng.random() < 0.6 else s
        body = s + rng.choice(["?", "??", "", ".", " ?"])
        subj = rng.choice(["", "", subject, F(rng.choice(c["subjects"]))])
        st = gc.draw_style(rng, True)
        return {"subject": gc.add_noise(subj, rng, st), "body": gc.add_noise(body, rng, st),
                "sender_type": rng.choice([None, None, "citizen"]), "label": label, "family": family, "topic": topics[0]}
    mode = rng.random()
    parts: list[str] = []
    if mode < 0.05:  # subject only
        subject = F(rng.choice(fam_subjects))
        body = rng.choice(["", "", "Se emnefeltet.", "Sendt fra min iPhone", "Se vedhæftede.", "Ring venligst."])
        return {"subject": gc.add_noise(subject, rng, style), "body": body,
                "sender_type": sender if rng.random() < 0.88 else None, "label": label, "family": family,
                "topic": topics[0]}
    long_letter = mode > 0.8
    if rng.random() < 0.8:
        parts.append(F(rng.choice(GREETINGS_INFORMAL if informal else GREETINGS_FORMAL)) + ("," if rng.random() < 0.6 else ""))
    if sender == "internal" and rng.random() < 0.6:
        parts.append(F(rng.choice(INTERNAL_PREFIX)))
    if sender == "authority" and rng.random() < 0.5:
        parts.append(F(rng.choice(AUTHORITY_PREFIX if rng.random() < 0.4 else pi.AUTHORITY_OPENERS)))
    if sender == "business" and rng.random() < 0.35:  # lawyers, accountants, estate agents, advisers
        parts.append(F(rng.choice(pi.PRO_OPENERS)))
    for s in rng.sample(OPENERS, rng.choice([0, 0, 1, 1, 2]) + (1 if long_letter else 0)):
        parts.append(F(s))
    if P_BACKGROUND > 0 and rng.random() < P_BACKGROUND:  # another subject first, as background; then the main request (label unchanged)
        other = rng.choice([l for l in LABELS if l != label])
        x = rng.choice(pi.SIDE[other])
        parts.append(gc.cap(rng.choice(pi.BACKGROUND_FRAMES).replace("{x}", x)))
        lead = rng.choice(pi.MAIN_LEADS)
        fam_bodies = [lead.replace("{s}", fam_bodies[0])] + fam_bodies[1:]
    for s in fam_bodies:
        parts.append(F(s))
    if rng.random() < (0.7 if long_letter else 0.35):
        parts.append(F(rng.choice(c["extra"])))
    if rng.random() < 0.10:  # a second subject in the same letter: one of its class-level sentences (label unchanged)
        other = rng.choice([l for l in LABELS if l != label])
        o_slots = dict(WRAP_SLOTS)
        o_slots.update(CLASSES[other]["slots"])
        parts.append(gc.cap(gc.fill(rng.choice(CLASSES[other]["extra"]), rng, o_slots)))
    if fams is not None and rng.random() < P_SECOND_REQUEST:
        # two topics, one main request: a request sentence of another subject after the main one (label = the
        # first subject). Taken from the same side of the split (train rows: the other subject's training families),
        # so no held-out phrasing leaks into training.
        other = rng.choice([l for l in LABELS if l != label])
        oc = CLASSES[other]
        oj = int(rng.choice(fams[other]).rsplit("/f", 1)[1])
        o_slots = dict(WRAP_SLOTS)
        o_slots.update(oc["slots"])
        sent = gc.fill(oc["topics"][rng.choice(list(oc["topics"]))][1][oj], rng, o_slots)
        parts.append(rng.choice(pi.SECOND_FRAMES).replace("{s}", sent))
    if rng.random() < 0.06:  # distractor: mentions another subject in passing
        other = rng.choice([l for l in LABELS if l != label])
        parts.append(rng.choice(["Jeg har i øvrigt også et spørgsmål om {x}, men det skriver jeg om separat.",
                                 "(Sidste år skrev jeg om {x}, det er løst nu.)",
                                 "Det har intet med {x} at gøre."]).replace("{x}", CLASSES[other]["name"].split(" (")[0].lower()))
    if rng.random() < P_SIDE:  # main request + a side mention of another subject (label unchanged)
        other = rng.choice([l for l in LABELS if l != label])
        side = rng.choice(pi.SIDE_FRAMES).replace("{x}", rng.choice(pi.SIDE[other]))
        parts.insert(rng.randint(max(1, len(parts) - 1), len(parts)), side)
    for s in rng.sample(FILLERS, rng.choice([0, 0, 1]) + (rng.choice([1, 2, 3]) if long_letter else 0)):
        parts.append(F(s))
    if rng.random() < 0.85:
        parts.append(F(rng.choice(CLOSINGS_INFORMAL if informal else CLOSINGS_FORMAL)))
    if sender == "business" and rng.random() < 0.7:
        parts.append(F(rng.choice(BUSINESS_SIG)))
    elif sender == "authority" and rng.random() < 0.7:
        parts.append(F(rng.choice(AUTHORITY_SIG)))
    elif sender == "internal" and rng.random() < 0.7:
        parts.append(F(rng.choice(INTERNAL_SIG)))
    elif rng.random() < 0.6:
        parts.append(F("{navn}"))
        suf = rng.choice(SIGN_SUFFIX)
        if suf:
            parts.append(suf)
    if rng.random() < P_NOISY_SIG:  # a signature / disclaimer with words of other subjects
        parts.append(F(rng.choice(pi.NOISY_SIGS)))
    sep = rng.choice(["\n", "\n\n", " "]) if not informal else rng.choice(["\n", " ", " "])
    body = sep.join(parts)
    w = rng.random()
    if w < P_FORWARD:  # forwarded by a colleague from an unrelated department, with a header block
        head = F(rng.choice(pi.FORWARD_HEADERS).replace("{emne}", subject.replace("{", "").replace("}", "")))
        if rng.random() < 0.4:  # the forwarder's own subject is named first
            other = rng.choice([l for l in LABELS if l != label])
            note = F(rng.choice(pi.FORWARD_NOTES_CONTEXT).replace("{sidex}", rng.choice(pi.SIDE[other])))
        else:
            note = F(rng.choice(pi.FORWARD_NOTES))
        body = note + "\n\n" + head + "\n\n" + body
        subject = rng.choice(["VS: ", "Fwd: ", "FW: ", "VS: VS: "]) + (subject or "Henvendelse")
        sender = "internal" if rng.random() < 0.8 else sender
    elif w < P_FORWARD + P_QUOTED:  # a reply on top of the municipality's earlier answer
        lead = F(rng.choice(pi.REPLY_LEADS))
        quoted = F(rng.choice(pi.QUOTED_REPLIES))
        body = (lead + "\n" if lead else "") + body + "\n\n" + F("Den {dato} kl. {klok} skrev {afd1}:") + "\n" + quoted
        subject = "SV: " + subject if not subject.startswith(("SV", "Re")) else subject
    return {"subject": gc.add_noise(subject, rng, style), "body": gc.add_noise(body, rng, style),
            "sender_type": sender if rng.random() < 0.88 else None, "label": label, "family": family,
            "topic": topics[0]}


def _english_mail(rng, label, j, slots, fixed, family, topic):
    subs, bodies = pi.ENGLISH[label]
    fam = [b for k, b in enumerate(bodies) if k % N_FAMILIES == j] + pf.family_sentences(pf.FREE_EN, label, j, N_FAMILIES)
    F = lambda t: gc.fill(t, rng, slots, fixed)  # noqa: E731
    parts = []
    g = rng.choice(pi.EN_GREETINGS)
    if g:
        parts.append(g + ",")
    if rng.random() < 0.5:
        parts.append(rng.choice(pi.EN_OPENERS))
    parts += [F(b) for b in rng.sample(fam, rng.choice([1, 1, len(fam)]))]
    if rng.random() < 0.8:
        parts.append(rng.choice(pi.EN_CLOSINGS))
    if rng.random() < 0.7:
        parts.append(rng.choice(pi.EN_NAMES))
    r = rng.random()
    subject = subs[j] if r < 0.6 else (rng.choice(subs) if r < 0.85 else rng.choice(["Question", "Help", "", "Hello"]))
    st = gc.draw_style(rng, rng.random() < 0.4)
    st = dict(st, diacritics=None) if "diacritics" in st else st
    return {"subject": subject, "body": gc.add_noise(rng.choice([" ", "\n", "\n\n"]).join(parts), rng, st),
            "sender_type": rng.choice([None, "citizen", "citizen", "business"]) if rng.random() < 0.9 else None,
            "label": label, "family": family, "topic": topic}


def generate(seed: int, n_train_per_class: int, n_test_per_class: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    train_f, test_f = family_split(seed)
    train, test = [], []
    for lab in LABELS:
        for i in range(n_train_per_class):
            train.append(make_mail(rng, lab, train_f[lab][i % len(train_f[lab])], train_f))
        for i in range(n_test_per_class):
            test.append(make_mail(rng, lab, test_f[lab][i % len(test_f[lab])], test_f))
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


if __name__ == "__main__":
    tr, te = generate(1, 3, 1)
    for m in tr[:8]:
        print("----", m["label"], m["family"], m["sender_type"])
        print("SUBJECT:", m["subject"])
        print(m["body"])
