#!/usr/bin/env bash
# The whole benchmark suite, one command: builds what it needs, runs every
# benchmark, and writes BENCHMARKS.md at the repository root.
#
#   benches/run.sh [--duration S] [--reps N] [--rss-seconds S] [--skip-build]
#
#   --duration S     measured seconds per load point (default 5; 1 s warm-up is extra)
#   --reps N         repetitions of every load point, interleaved (default 3)
#   --rss-seconds S  length of the RSS-growth run at concurrency 64 (default 60;
#                    the issue's 5-minute run is --rss-seconds 300)
#   --skip-build     use the binaries and components already built
#   --from STEP      start at STEP (startup, sandbox, engine, http, audit, memory,
#                    report), keeping earlier results in target/komp-bench/results
#
# Everything it writes (servers' data directories, the generated encoder
# model, raw JSON results) goes to target/komp-bench/. Servers listen on
# 127.0.0.1:18080-18093 and are stopped at the end. Python packages of the
# peer stack (benches/peers/requirements.txt) are installed into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DUR=5 REPS=3 RSS_SECS=60 BUILD=1 FROM=startup
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DUR=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --rss-seconds) RSS_SECS=$2; shift 2 ;;
        --skip-build) BUILD=0; shift ;;
        --from) FROM=$2; shift 2 ;;
        -h|--help) sed -n 2,18p "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
COMMAND="benches/run.sh --duration $DUR --reps $REPS --rss-seconds $RSS_SECS"

OUT=target/komp-bench
D=$OUT/data
RES=$OUT/results
KOMP=target/release/komp
BIN=target/release
PY=.venv/bin/python
mkdir -p "$OUT"
STEPS="startup sandbox engine http audit memory report"
step_no() { local i=0; for s in $STEPS; do [ "$s" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done; echo "unknown step $1" >&2; exit 2; }
want() { [ "$(step_no "$1")" -ge "$(step_no "$FROM")" ]; }
if [ "$FROM" = startup ]; then rm -rf "$RES"; fi
mkdir -p "$RES"
if [ "$FROM" = startup ]; then
    echo "\`$(git rev-parse --short HEAD)\`$( [ -n "$(git status --porcelain)" ] && echo ' + uncommitted changes')" >"$RES/commit.txt"
fi
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log() { echo "[$(date +%T)] $*" >&2; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# ---------------------------------------------------------------- build
if [ "$BUILD" = 1 ]; then
    log "building komp, the bench binaries and the components (release)"
    scripts/setup.sh >/dev/null
    # tract with multi-threaded matrix products, for the engine comparison
    # only (a second build of tract; kept apart from the binaries we measure).
    cargo build --release -p komp-bench --features tract-mt --bin komp-sandbox
    cp target/release/komp-sandbox "$OUT/komp-sandbox-mt"
    cargo build --release -p komp -p komp-bench --bins
    scripts/build-components.sh "$KOMP" >/dev/null
    cargo build --target wasm32-wasip2 --profile component -p komp-bench-encoder
    training/setup.sh   # idempotent; also installs komp-train, which the peer imports
    log "installing the peer stack into .venv"
    .venv/bin/pip install -q -r benches/peers/requirements.txt
fi
[ -f "$OUT/minilm.onnx" ] || $PY benches/models/make_minilm.py "$OUT/minilm.onnx"
"$KOMP" pack --component target/wasm32-wasip2/component/komp_bench_encoder.wasm \
    --manifest benches/components/encoder/manifest.json --model "encoder=$OUT/minilm.onnx" -o "$OUT/encoder.wasm" >/dev/null

# ---------------------------------------------------------------- inputs
cat > "$OUT/postsortering.json" <<'EOF'
{"subject":"Skraldespand ikke tømt","body":"Hej, vores affaldsbeholder til restaffald er ikke blevet tømt i to uger. Mvh Jens","sender_type":"citizen"}
EOF
cat > "$OUT/underretning.json" <<'EOF'
{"text":"Pigen fortalte at far slog hende i går og hun har blå mærker","reporter_type":"school","child_age":9,"prior_notifications_12m":1,"known_to_municipality":true}
EOF
# A benchmark configuration: the shipped defaults, except the per-tenant rate
# limit (100/s by default), which would otherwise be what we measure.
cat > "$OUT/serve.json" <<'EOF'
{"default_rate_limit_per_second": 1000000000.0}
EOF

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
wait_ready() { # url
    for _ in $(seq 1 600); do
        if curl -sf -o /dev/null "$1"; then return 0; fi
        sleep 0.1
    done
    echo "not ready: $1" >&2; return 1
}
serve() { # port data-dir -> pid in $SERVE_PID
    "$KOMP" serve --dev --metrics-listen 127.0.0.1:0 --config "$OUT/serve.json" --listen "127.0.0.1:$1" --data-dir "$2" --seed-dir target/komp-components \
        >"$2.log" 2>&1 &
    SERVE_PID=$!
    PIDS+=("$SERVE_PID")
    wait_ready "http://127.0.0.1:$1/v2/health/ready"
}

if want startup; then
# ---------------------------------------------------------------- (6) start-up
log "start-up: first start, cold compile cache, warm"
SD=$OUT/data-startup
rm -rf "$SD"
startup() { "$BIN/komp-startup" --addr 127.0.0.1:18089 -- "$KOMP" serve --dev --metrics-listen 127.0.0.1:0 --config "$OUT/serve.json" --listen 127.0.0.1:18089 --data-dir "$SD" --seed-dir target/komp-components; }
startup | sed 's/^{/{"kind":"startup","phase":"first",/' >>"$RES/startup.jsonl"
for _ in 1 2 3; do
    rm -rf "$SD/compile-cache"
    startup | sed 's/^{/{"kind":"startup","phase":"cold",/' >>"$RES/startup.jsonl"
done
for _ in 1 2 3 4 5; do
    startup | sed 's/^{/{"kind":"startup","phase":"warm",/' >>"$RES/startup.jsonl"
done

fi

if want sandbox; then
# ---------------------------------------------------------------- (2) sandbox cost
log "sandbox cost: runtime vs native tract (standard components and the encoder)"
"$BIN/komp-sandbox" --components target/komp-components --encoder "$OUT/encoder.wasm" --encoder-onnx "$OUT/minilm.onnx" \
    --rounds 5 --calls 400 --encoder-calls 8 >"$RES/sandbox.json"

fi

if want engine; then
# ---------------------------------------------------------------- (5) engine vs engine
log "engine: tract vs onnxruntime, compute only, encoder graph"
MT_BIN=$OUT/komp-sandbox-mt
[ -x "$MT_BIN" ] || MT_BIN=$BIN/komp-sandbox
"$MT_BIN" --engine-only --encoder-onnx "$OUT/minilm.onnx" --rounds 5 --encoder-calls 8 >"$RES/engine-tract.json"
$PY benches/peers/ort_compute.py "$OUT/minilm.onnx" 5 8 >"$RES/engine-ort.json"

fi

if want http; then
# ---------------------------------------------------------------- servers
log "starting servers: komp (audit on disk), komp (audit on tmpfs), komp-null, FastAPI peer"
D=$OUT/data
rm -rf "$D" && mkdir -p "$D"
serve 18080 "$D"; KOMP_PID=$SERVE_PID
TOKEN=$("$KOMP" token create --data-dir "$D" --tenant 0751 --role caller --quiet)

# The same server with its audit log on tmpfs: fdatasync is free there, so the
# difference is the cost of durability (the records are still written).
DT=$OUT/data-tmpfs
SHM=/dev/shm/komp-bench-audit-$$
rm -rf "$DT" "$SHM" && mkdir -p "$DT" "$SHM"
ln -s "$SHM" "$DT/audit"
serve 18081 "$DT"; KOMPT_PID=$SERVE_PID
TOKEN_T=$("$KOMP" token create --data-dir "$DT" --tenant 0751 --role caller --quiet)

for c in postsortering underretning; do
    curl -sf -H "authorization: Bearer $TOKEN" --data-binary @"$OUT/$c.json" \
        "http://127.0.0.1:18080/v1/components/$c/predict" >"$OUT/response-$c.json"
done
"$BIN/komp-null" --listen 127.0.0.1:18082 --response postsortering="$OUT/response-postsortering.json" \
    --response underretning="$OUT/response-underretning.json" 2>"$OUT/null.log" &
PIDS+=($!)
NCPU=$(nproc)
.venv/bin/uvicorn --app-dir benches/peers server:app --host 127.0.0.1 --port 18083 --workers "$NCPU" \
    --log-level warning --no-access-log >"$OUT/peer.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do
    curl -sf -o /dev/null --data-binary @"$OUT/postsortering.json" -H 'content-type: application/json' \
        http://127.0.0.1:18083/v1/components/postsortering/predict && break
    sleep 0.1
done
for c in postsortering underretning; do
    curl -sf -H 'content-type: application/json' --data-binary @"$OUT/$c.json" \
        "http://127.0.0.1:18083/v1/components/$c/predict" >"$OUT/peer-response-$c.json"
    curl -sf --data-binary @"$OUT/$c.json" "http://127.0.0.1:18082/v1/components/$c/predict" >/dev/null
done

load() { # label url concurrency body [extra args...]
    local label=$1 url=$2 conc=$3 body=$4; shift 4
    "$BIN/komp-load" --json --label "$label" -c "$conc" -d "$DUR" --warmup 1 --body-file "$body" "$@" "$url" >>"$RES/load.jsonl"
}

# ---------------------------------------------------------------- (3) (4) (7) HTTP
log "HTTP: $REPS reps x {komp, null, peer} x {postsortering, underretning} x c={1,8,64}, ${DUR}s each; audit on/off at c=64"
for rep in $(seq 1 "$REPS"); do
    for conc in 1 8 64; do
        for c in postsortering underretning; do
            load "komp/$c/$conc/$rep" "http://127.0.0.1:18080/v1/components/$c/predict" "$conc" "$OUT/$c.json" -H "authorization: Bearer $TOKEN"
            load "null/$c/$conc/$rep" "http://127.0.0.1:18082/v1/components/$c/predict" "$conc" "$OUT/$c.json"
            load "peer/$c/$conc/$rep" "http://127.0.0.1:18083/v1/components/$c/predict" "$conc" "$OUT/$c.json"
        done
    done
    for conc in 8 64; do
        load "audit-tmpfs/postsortering/$conc/$rep" "http://127.0.0.1:18081/v1/components/postsortering/predict" "$conc" "$OUT/postsortering.json" -H "authorization: Bearer $TOKEN_T"
        load "audit-disk/postsortering/$conc/$rep" "http://127.0.0.1:18080/v1/components/postsortering/predict" "$conc" "$OUT/postsortering.json" -H "authorization: Bearer $TOKEN"
    done
    log "rep $rep done"
done
cleanup
PIDS=()
rm -rf "$SHM"

fi

if want audit; then
# ---------------------------------------------------------------- (7b) audit append alone
log "audit log alone: append_bench with 1, 8 and 64 writers, on disk and on tmpfs"
cargo build --release -q -p komp-audit --example append_bench --example retention_bench 2>/dev/null || true
if [ -x target/release/examples/append_bench ]; then
    SHM=/dev/shm/komp-bench-append-$$
    for rep in $(seq 1 "$REPS"); do
        for t in 1 8 64; do
            # disk and tmpfs side by side: the difference is the cost of fdatasync
            for where in disk tmpfs; do
                dir=$OUT/audit-bench
                [ "$where" = tmpfs ] && dir=$SHM
                rm -rf "$dir"
                target/release/examples/append_bench "$t" $((6400 / t)) "$dir" >"$OUT/append.out"
                echo "$where $(head -1 "$OUT/append.out")" >>"$RES/audit-append.txt"
            done
        done
    done
    rm -rf "$SHM" "$OUT/audit-bench"
fi
# ---------------------------------------------------------------- (7c) audit start-up with 1 M retained records
if [ -x target/release/examples/retention_bench ]; then
    RD=$OUT/audit-retention
    if [ ! -f "$RD.filled" ]; then
        log "audit log: filling a directory with 1,000,000 records (once; kept in $RD)"
        rm -rf "$RD"
        target/release/examples/retention_bench fill "$RD" 1000000
        touch "$RD.filled"
    fi
    log "audit log: start-up and RSS with 1 M retained records, $REPS fresh processes"
    for _ in $(seq 1 "$REPS"); do
        target/release/examples/retention_bench open "$RD" >>"$RES/audit-retention.jsonl"
    done
fi

fi

if want memory; then
# ---------------------------------------------------------------- (6) memory
log "memory: peak RSS at concurrency 64, RSS growth over ${RSS_SECS}s"
DM=$OUT/data-mem
rm -rf "$DM" && cp -r "$D" "$DM" && rm -rf "$DM/audit"
serve 18084 "$DM"; MEM_PID=$SERVE_PID
TOKEN_M=$("$KOMP" token create --data-dir "$DM" --tenant 0751 --role caller --quiet)
for c in postsortering underretning; do
    curl -sf -o /dev/null -H "authorization: Bearer $TOKEN_M" --data-binary @"$OUT/$c.json" "http://127.0.0.1:18084/v1/components/$c/predict"
done
sleep 0.5
BASE=$(rss_kb "$MEM_PID")
echo 5 >"/proc/$MEM_PID/clear_refs" 2>/dev/null || true # reset the peak (VmHWM)
for c in postsortering underretning; do
    "$BIN/komp-load" --json --label "mem/$c/64" -c 64 -d "$DUR" --warmup 0 --body-file "$OUT/$c.json" \
        -H "authorization: Bearer $TOKEN_M" "http://127.0.0.1:18084/v1/components/$c/predict" >>"$RES/mem-load.jsonl"
done
PEAK=$(hwm_kb "$MEM_PID")
AFTER_PEAK=$(rss_kb "$MEM_PID")
(
    while kill -0 "$MEM_PID" 2>/dev/null; do
        echo "$(date +%s.%N) $(rss_kb "$MEM_PID")"
        sleep 2
    done
) >"$RES/rss-samples.txt" 2>/dev/null &
SAMPLER=$!
"$BIN/komp-load" --json --label "rss-growth/postsortering/64" -c 64 -d "$RSS_SECS" --warmup 0 --body-file "$OUT/postsortering.json" \
    -H "authorization: Bearer $TOKEN_M" "http://127.0.0.1:18084/v1/components/postsortering/predict" >>"$RES/mem-load.jsonl"
END_RSS=$(rss_kb "$MEM_PID")
kill "$SAMPLER" 2>/dev/null || true
echo "{\"base_kb\":$BASE,\"peak_kb\":$PEAK,\"after_peak_kb\":$AFTER_PEAK,\"end_kb\":$END_RSS,\"rss_seconds\":$RSS_SECS}" >"$RES/memory.json"
cleanup
PIDS=()

fi

# ---------------------------------------------------------------- report
log "writing BENCHMARKS.md"
$PY benches/report.py --results "$RES" --out BENCHMARKS.md --command "$COMMAND" --started "$STARTED" \
    --duration "$DUR" --reps "$REPS"
log "done: BENCHMARKS.md"
