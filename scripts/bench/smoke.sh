#!/usr/bin/env bash
# Runs both benchmark tools, small, against `ernie serve` (the bundled demo model unless SERVE_ARGS says otherwise):
# bench-serving with --backend sglang and sglang-oai-chat, then bench-gsm8k on a few questions. For CI.
#
#   scripts/bench/smoke.sh TOKENIZER_DIR [ERNIE_BINARY]
#
# TOKENIZER_DIR  the served model's tokenizer folder (bench-serving counts tokens with it)
# ERNIE_BINARY   default .build/debug/ernie
# Environment: PORT=30123, SERVE_ARGS="" (extra `ernie serve` arguments), NUM_PROMPTS=8, OUT_DIR=(temporary folder),
# GSM8K_DATA=(GSM8K test.jsonl; default the 8 problems in Tests/Fixtures/bench/gsm8k_head.jsonl)
# Fails if the server does not come up within 120 s, or if any request fails.
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
TOKENIZER_DIR="$1"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ERNIE="${2:-$ROOT/.build/debug/ernie}"
PORT="${PORT:-30123}"
NUM_PROMPTS="${NUM_PROMPTS:-8}"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/ernie-bench-smoke.XXXXXX)}"
URL="http://127.0.0.1:$PORT"

# shellcheck disable=SC2086
"$ERNIE" serve --host 127.0.0.1 --port "$PORT" ${SERVE_ARGS:-} > "$OUT_DIR/serve.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    curl -sf "$URL/v1/models" > /dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT_DIR/serve.log" >&2; echo "ernie serve exited" >&2; exit 1; }
    sleep 1
done
curl -sf "$URL/v1/models" > /dev/null || { echo "ernie serve did not come up on $URL" >&2; exit 1; }

for backend in sglang sglang-oai-chat; do
    "$ERNIE" bench-serving --backend "$backend" --base-url "$URL" --tokenizer "$TOKENIZER_DIR" \
        --dataset-name random --random-input-len 64 --random-output-len 16 --random-range-ratio 1.0 \
        --num-prompts "$NUM_PROMPTS" --max-concurrency 4 --disable-tqdm \
        --output-file "$OUT_DIR/bench-$backend.jsonl" --plot "$OUT_DIR/bench-$backend.svg" | tee "$OUT_DIR/bench-$backend.txt"
    completed=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])['completed'])" \
        "$OUT_DIR/bench-$backend.jsonl")
    [[ "$completed" == "$NUM_PROMPTS" ]] || { echo "$backend: $completed of $NUM_PROMPTS requests completed" >&2; exit 1; }
done

"$ERNIE" bench-gsm8k --host http://127.0.0.1 --port "$PORT" --data-path "${GSM8K_DATA:-$ROOT/Tests/Fixtures/bench/gsm8k_head.jsonl}" \
    --num-shots 2 --num-questions 4 --parallel 4 --disable-tqdm --result-file "$OUT_DIR/gsm8k.jsonl"
echo "bench smoke test passed; outputs in $OUT_DIR"
