"""Turns the raw results of benches/run.sh (target/komp-bench/results/) into BENCHMARKS.md.

Every number is a median over repetitions with its spread (min-max over the
repetitions); ratios are computed per repetition from points measured in the
same run (interleaved), then summarised the same way.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
from collections import defaultdict


def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def med(v):
    return statistics.median(v) if v else float("nan")


def fmt(v, d=0):
    return f"{v:,.{d}f}" if v == v else "–"


def spread(v, d=0, unit=""):
    """'median (min-max)'."""
    if not v:
        return "–"
    if len(v) == 1:
        return f"{fmt(v[0], d)}{unit}"
    return f"{fmt(med(v), d)}{unit} ({fmt(min(v), d)}–{fmt(max(v), d)})"


def jl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def jf(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--started", required=True)
    ap.add_argument("--duration", required=True)
    ap.add_argument("--reps", required=True)
    a = ap.parse_args()
    R = a.results

    # label = target/component/concurrency/rep
    load = defaultdict(dict)
    for r in jl(os.path.join(R, "load.jsonl")):
        t, c, conc, rep = r["label"].split("/")
        load[(t, c, int(conc))][int(rep)] = r

    def series(t, c, conc, key):
        pts = load.get((t, c, conc), {})
        out = []
        for rep in sorted(pts):
            r = pts[rep]
            out.append(r["rps"] if key == "rps" else r["latency_us"][key])
        return out

    def ratio(t1, t2, c, conc, key):
        p1, p2 = load.get((t1, c, conc), {}), load.get((t2, c, conc), {})
        out = []
        for rep in sorted(set(p1) & set(p2)):
            a1 = p1[rep]["rps"] if key == "rps" else p1[rep]["latency_us"][key]
            a2 = p2[rep]["rps"] if key == "rps" else p2[rep]["latency_us"][key]
            if a2:
                out.append(a1 / a2)
        return out

    def errors(t, c, conc):
        pts = load.get((t, c, conc), {})
        return sum(r["non_2xx"] + r["io_errors"] for r in pts.values())

    targets = []  # (what, target, measured, met)
    L = []
    w = L.append

    cpu = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    mem = sh("free -g | awk '/Mem:/ {print $2}'")
    w("# Benchmarks")
    w("")
    w("Written by `benches/run.sh` (do not edit by hand; the analysis at the end comes from `benches/analysis.md`).")
    w("")
    w(f"- **Date**: {a.started} (UTC, start of the run)")
    w(f"- **Command**: `{a.command}`")
    # The commit the measured binaries were built from, recorded by run.sh when it started (the
    # report may be rewritten later, from a later commit, with only the analysis changed).
    cf = os.path.join(R, "commit.txt")
    commit = open(cf).read().strip() if os.path.exists(cf) else \
        f"`{sh('git rev-parse --short HEAD')}`{' + uncommitted changes' if sh('git status --porcelain') else ''}"
    w(f"- **Commit**: {commit}")
    w(f"- **Machine**: {cpu}, {os.cpu_count()} logical CPUs, {mem} GiB RAM, {platform.system()} {platform.release()}")
    try:
        import importlib.metadata as md
        peers = ", ".join(f"{p} {md.version(p)}" for p in ("onnxruntime", "fastapi", "uvicorn"))
    except Exception:
        peers = "peer packages not found"
    w(f"- **Toolchain**: {sh('rustc --version')}; Python {platform.python_version()}; {peers}")
    w(f"- **Method**: every HTTP load point runs {a.duration} s measured after 1 s warm-up, closed loop, "
      f"{a.reps} repetitions interleaved (komp, no-inference axum, FastAPI peer, one after the other per point). "
      "Numbers are *median (min–max)* over the repetitions; ratios are taken per repetition from points of the same "
      "repetition, then summarised. The load generator (`komp-load`, one tokio thread) runs on the same machine and "
      "takes one of its cores while measuring, for every target alike.")
    w("")

    # ---------------------------------------------------------------- sandbox
    sb = jf(os.path.join(R, "sandbox.json"))
    w("## Sandbox cost: runtime versus tract called natively (same process, same model, same input)")
    w("")
    w("Through the runtime: `Runtime::predict` = input schema check, a fresh instance, the component's pre- and post-processing "
      "in wasm, the model in host-side tract behind `wasi:nn`, output checks. Natively (the *twin*): the component's own work in this "
      "process: the same JSON parse, features (`komp_sdk::text::HashedText`) or tokens, the same tract plan, the same explanation "
      "grouping and, for the standard components, the same out-of-distribution check, details and prediction building. Median over 5 rounds (min–max).")
    w("")
    w("| component | instantiate / call | through the runtime | native tract | overhead / call | ratio |")
    w("|---|---|---|---|---|---|")
    if sb:
        for r in sb["results"]:
            w(f"| {r['component']} | {spread(r['instantiate_us']['rounds'], 1, ' µs')} | {spread(r['sandbox_us']['rounds'], 1, ' µs')} | "
              f"{spread(r['native_us']['rounds'], 1, ' µs')} | {spread(r['overhead_us']['rounds'], 1, ' µs')} | {spread(r['ratio']['rounds'], 3, '×')} |")
            if r["component"] in ("postsortering", "underretning"):
                v = r["ratio"]["median"]
                targets.append((f"{r['component']}: sandboxed prediction vs its native twin", "≤ 2×", f"{v:.2f}×", v <= 2))
            if r["component"] == "bench-encoder":
                v = r["ratio"]["median"]
                targets.append(("sandbox cost on the transformer graph", "≤ 1.05× native tract", f"{v:.3f}×", v <= 1.05))
        inst = max(r["instantiate_us"]["median"] for r in sb["results"] if r["component"] != "bench-encoder")
        targets.append(("instantiate per call", "≤ 20 µs", f"{inst:.1f} µs (worst standard component)", inst <= 20))
    w("")
    w("`bench-encoder` is a benchmark-only component (`benches/components/encoder`) running the MiniLM-sized encoder "
      "made by `benches/models/make_minilm.py` (6 layers, hidden 384, 12 heads, sequence 128, 22.6 M parameters, random weights).")
    w("")

    # ---------------------------------------------------------------- HTTP vs limit
    w("## HTTP versus the limit: predict versus an axum endpoint that does no inference")
    w("")
    w("`komp-null` (`benches/src/bin/komp-null.rs`): the same axum/hyper/tokio, reads the body, answers with a stored real "
      "prediction response of the same size. komp runs with the shipped defaults (auth, per-tenant limits, 64 prediction "
      "slots, durable audit log with fdatasync before the answer) except the per-tenant rate limit, raised so that it is not what we measure.")
    w("")
    w("| component | conc. | komp req/s | no-inference req/s | ratio | komp p50 / p99 (µs) | no-inference p50 / p99 (µs) | errors (komp/null) |")
    w("|---|---|---|---|---|---|---|---|")
    for c in ("postsortering", "underretning"):
        for conc in (1, 8, 64):
            rr = ratio("komp", "null", c, conc, "rps")
            w(f"| {c} | {conc} | {spread(series('komp', c, conc, 'rps'))} | {spread(series('null', c, conc, 'rps'))} | {spread(rr, 3, '×')} | "
              f"{fmt(med(series('komp', c, conc, 'p50')))} / {fmt(med(series('komp', c, conc, 'p99')))} | "
              f"{fmt(med(series('null', c, conc, 'p50')))} / {fmt(med(series('null', c, conc, 'p99')))} | "
              f"{errors('komp', c, conc)} / {errors('null', c, conc)} |")
            if c == "postsortering" and rr:
                targets.append((f"postsortering predict vs no-inference endpoint, c={conc}", "≥ 0.5× throughput", f"{med(rr):.3f}×", med(rr) >= 0.5))
            if c == "postsortering" and conc == 1 and series("komp", c, 1, "p50"):
                p50 = med(series("komp", c, 1, "p50"))
                targets.append(("postsortering p50, one request at a time, durable audit", "≤ 400 µs", f"{p50:,.0f} µs", p50 <= 400))
    w("")

    # ---------------------------------------------------------------- the limit
    w("## The limit: the native twin's predictions per second per core, and komp's HTTP throughput as a fraction of it")
    w("")
    w("Compute-only limit = 1 / (native twin's time per prediction), on one core (the table above). komp's HTTP throughput is at "
      "concurrency 64, where the server has about one core (the load generator takes the other), so the fraction is per core too.")
    w("")
    w("| component | native twin / prediction | limit (predictions/s/core) | sandboxed (runtime) predictions/s/core | komp HTTP req/s, c=64 | HTTP / limit |")
    w("|---|---|---|---|---|---|")
    for c in ("postsortering", "underretning"):
        r = next((r for r in (sb or {}).get("results", []) if r["component"] == c), None)
        http = series("komp", c, 64, "rps")
        if r:
            lim = 1e6 / r["native_us"]["median"]
            sand = 1e6 / r["sandbox_us"]["median"]
            w(f"| {c} | {r['native_us']['median']:.1f} µs | {lim:,.0f} | {sand:,.0f} | {spread(http)} | {fmt(med(http) / lim, 3)}× |")
    w("")

    # ---------------------------------------------------------------- HTTP vs peer
    w("## HTTP versus the peer stack: FastAPI + uvicorn + onnxruntime")
    w("")
    w("`benches/peers/server.py`: the same ONNX models, the same pre-processing (`komp_train.features`, `training/komp_train/features.py`), the same "
      "validation, post-processing and response shape; uvicorn with uvloop and httptools, one worker per CPU, onnxruntime "
      "with one intra-op thread per worker. It has no sandbox, no authentication and no audit log. Same load generator, same requests.")
    w("")
    w("| component | conc. | komp req/s | peer req/s | throughput ratio | komp p99 (µs) | peer p99 (µs) | p99 ratio (komp/peer) | errors (komp/peer) |")
    w("|---|---|---|---|---|---|---|---|---|")
    for c in ("postsortering", "underretning"):
        for conc in (1, 8, 64):
            tr = ratio("komp", "peer", c, conc, "rps")
            pr = ratio("komp", "peer", c, conc, "p99")
            w(f"| {c} | {conc} | {spread(series('komp', c, conc, 'rps'))} | {spread(series('peer', c, conc, 'rps'))} | {spread(tr, 2, '×')} | "
              f"{fmt(med(series('komp', c, conc, 'p99')))} | {fmt(med(series('peer', c, conc, 'p99')))} | {spread(pr, 3, '×')} | "
              f"{errors('komp', c, conc)} / {errors('peer', c, conc)} |")
            if conc == 64 and tr:
                targets.append((f"{c}: throughput vs FastAPI+onnxruntime, c=64", "≥ 5×", f"{med(tr):.2f}×", med(tr) >= 5))
                targets.append((f"{c}: p99 vs FastAPI+onnxruntime, c=64", "≤ 0.2×", f"{med(pr):.3f}×", med(pr) <= 0.2))
    w("")

    # ---------------------------------------------------------------- engine
    et, eo = jf(os.path.join(R, "engine-tract.json")), jf(os.path.join(R, "engine-ort.json"))
    w("## Engine versus the peer engine: tract versus onnxruntime, compute only, encoder graph")
    w("")
    w("`plan.run` / `session.run` on prepared input tensors (sequence 128), median over 5 rounds of 8 calls (min–max).")
    w("")
    w("| engine | 1 thread | all cores | tract / onnxruntime (1 thread) | tract / onnxruntime (all cores) |")
    w("|---|---|---|---|---|")
    if et and eo:
        r1 = et["single_thread_us"]["median"] / eo["single_thread_us"]["median"]
        ra = et["all_cores_us"]["median"] / eo["all_cores_us"]["median"] if "all_cores_us" in et else float("nan")
        w(f"| {et['engine']} | {spread(et['single_thread_us']['rounds'], 0, ' µs')} | {spread(et.get('all_cores_us', {}).get('rounds', []), 0, ' µs')} | {r1:.2f}× | {fmt(ra, 2)}× |")
        w(f"| {eo['engine']} | {spread(eo['single_thread_us']['rounds'], 0, ' µs')} | {spread(eo['all_cores_us']['rounds'], 0, ' µs')} | | |")
    w("")

    # ---------------------------------------------------------------- start-up and memory
    st = jl(os.path.join(R, "startup.jsonl"))
    w("## Start-up and memory")
    w("")
    w("Process start to `GET /v2/health/ready` = 200 (`komp-startup`), with the three signed components of `target/komp-components` "
      "(example-feedback, postsortering, underretning): install = verify, compile or load from the compile cache, load models, run golden vectors.")
    w("")
    w("| phase | start to ready |")
    w("|---|---|")
    for phase, what in (("first", "first start (empty data dir: publish seeds + compile)"), ("cold", "cold compile cache (registry kept, cache deleted)"), ("warm", "warm compile cache")):
        v = [r["ready_ms"] for r in st if r["phase"] == phase]
        w(f"| {what} | {spread(v, 0, ' ms')} |")
        if phase == "warm" and v:
            targets.append(("warm start to ready", "≤ 100 ms", f"{med(v):.0f} ms", med(v) <= 100))
    w("")
    m = jf(os.path.join(R, "memory.json"))
    if m:
        samples = []
        if os.path.exists(os.path.join(R, "rss-samples.txt")):
            samples = [int(l.split()[1]) for l in open(os.path.join(R, "rss-samples.txt")) if len(l.split()) == 2]
        base, peak = m["base_kb"] / 1024, m["peak_kb"] / 1024
        w("| memory | value |")
        w("|---|---|")
        w(f"| base RSS (after start and one prediction per component) | {base:.1f} MiB |")
        w(f"| peak RSS at concurrency 64 ({a.duration} s postsortering + {a.duration} s underretning) | {peak:.1f} MiB (base + {peak - base:.1f} MiB = {(peak - base) / 64:.2f} MiB per in-flight request) |")
        if samples:
            w(f"| RSS over a {m['rss_seconds']} s run at concurrency 64 (postsortering) | start {samples[0] / 1024:.1f} MiB, end {samples[-1] / 1024:.1f} MiB, max {max(samples) / 1024:.1f} MiB; growth {(samples[-1] - samples[0]) / 1024:+.1f} MiB |")
        targets.append(("RSS at concurrency 64", "≤ base + 64 × 2 MB", f"base + {peak - base:.1f} MiB", (peak - base) <= 128))
    w("")

    # ---------------------------------------------------------------- audit
    w("## Audit cost: durable audit log versus audit log on tmpfs")
    w("")
    w("komp has no switch to turn the audit log off (and should not have one in production), so the run compares the same "
      "server with its audit directory on disk (ext4, write + fdatasync per group commit, the shipped behaviour) and on tmpfs "
      "(a symlink to /dev/shm: the records are still hashed, chained and written, but fdatasync costs nothing). The difference is the cost of durability. "
      "The audit log alone (`cargo run --release -p komp-audit --example append_bench`) is below.")
    w("")
    w("| conc. | durable (disk) req/s | tmpfs req/s | durable / tmpfs | durable p99 (µs) | tmpfs p99 (µs) |")
    w("|---|---|---|---|---|---|")
    for conc in (8, 64):
        rr = ratio("audit-disk", "audit-tmpfs", "postsortering", conc, "rps")
        w(f"| {conc} | {spread(series('audit-disk', 'postsortering', conc, 'rps'))} | {spread(series('audit-tmpfs', 'postsortering', conc, 'rps'))} | {spread(rr, 3, '×')} | "
          f"{fmt(med(series('audit-disk', 'postsortering', conc, 'p99')))} | {fmt(med(series('audit-tmpfs', 'postsortering', conc, 'p99')))} |")
        if rr:
            targets.append((f"durable audit cost, postsortering c={conc}", "≤ 20% throughput", f"{(1 - med(rr)) * 100:.1f}%", (1 - med(rr)) <= 0.20))
    w("")
    ap_ = os.path.join(R, "audit-append.txt")
    if os.path.exists(ap_):
        w("Lines starting `disk` wrote to ext4 with fdatasync per group commit, `tmpfs` to /dev/shm, run side by side "
          "(disk, tmpfs, disk, ...), every writer count repeated in each repetition.")
        w("")
        w("```")
        w(open(ap_).read().strip())
        w("```")
        w("")
    rt_ = os.path.join(R, "audit-retention.jsonl")
    if os.path.exists(rt_):
        rows = jl(rt_)
        w("### Audit log start-up with 1 M retained records")
        w("")
        w("`retention_bench open` in a fresh process per repetition, on a directory filled once with 1,000,000 predictions and 100,000 feedback records "
          "(`retention_bench fill`: three tenants, two components). "
          "Median (min–max) over the repetitions.")
        w("")
        checked = [r for r in rows if "integrity_checked_ms" in r]
        w("| records | open (ms) | RSS before open | RSS after open | peak RSS | `get` of the oldest prediction (µs) | background hash check done (ms after open began) |")
        w("|---|---|---|---|---|---|---|")
        w(f"| {fmt(med([r['records'] for r in rows]))} | {spread([r['open_ms'] for r in rows])} | "
          f"{med([r['rss_before_kb'] for r in rows]) / 1024:.1f} MiB | {spread([r['rss_after_kb'] / 1024 for r in rows], 1, ' MiB')} | "
          f"{spread([r['hwm_kb'] / 1024 for r in rows], 1, ' MiB')} | {spread([r['get_oldest_us'] for r in rows])} | "
          f"{spread([r['integrity_checked_ms'] for r in checked]) if checked else 'n/a'} |")
        if checked:
            targets.append(("audit start-up with 1 M retained records", "flat: open reads only the active segment",
                            f"{med([r['open_ms'] for r in rows]):.0f} ms, RSS {med([r['rss_after_kb'] for r in rows]) / 1024:.0f} MiB",
                            med([r['open_ms'] for r in rows]) < 1000))
        w("")

    # ---------------------------------------------------------------- targets
    T = ["## Targets", "", "| target | goal | measured | met |", "|---|---|---|---|"]
    for what, goal, got, ok in targets:
        T.append(f"| {what} | {goal} | {got} | {'yes' if ok else '**no**'} |")
    T.append("")
    # Targets go right after the header block.
    head_end = L.index("## Sandbox cost: runtime versus tract called natively (same process, same model, same input)")
    L[head_end:head_end] = T

    an = os.path.join(os.path.dirname(__file__), "analysis.md")
    if os.path.exists(an):
        L.append(open(an).read().strip())
        L.append("")
    with open(a.out, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
