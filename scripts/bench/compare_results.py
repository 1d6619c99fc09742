#!/usr/bin/env python3
"""Puts the reports of SGLang's bench_serving and `ernie bench-serving` side by side and compares the key numbers.

Usage: compare_results.py LABEL SGLANG_STDOUT SGLANG_JSONL ERNIE_STDOUT ERNIE_JSONL [NUM_PROMPTS]
Exit status 0 if output throughput and mean TPOT agree within 10% and (given NUM_PROMPTS) both runs completed every
request, else 1.
"""
import json
import sys


def report_block(path):
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    start = next((i for i, l in enumerate(lines) if "Serving Benchmark Result" in l), None)
    if start is None:
        return ["(no report found)"]
    end = next((i for i in range(start + 1, len(lines)) if lines[i] == "=" * 50), len(lines) - 1)
    return lines[start:end + 1]


def last_record(path):
    with open(path, encoding="utf-8") as f:
        lines = [l for l in f if l.strip()]
    return json.loads(lines[-1])


def main():
    label, sgl_out, sgl_jsonl, ern_out, ern_jsonl = sys.argv[1:6]
    left, right = report_block(sgl_out), report_block(ern_out)
    width = 52
    print(f"\n### {label}")
    print(f"{'SGLang bench_serving.py':<{width}} | ernie bench-serving")
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        print(f"{a:<{width}} | {b}")
    s, e = last_record(sgl_jsonl), last_record(ern_jsonl)
    ok = True
    print(f"\n{'metric':<28} {'SGLang':>12} {'ernie':>12} {'ratio':>8}")
    for key in ["completed", "total_input_tokens", "total_output_tokens", "output_throughput", "total_throughput",
                "mean_ttft_ms", "median_ttft_ms", "mean_tpot_ms", "median_tpot_ms", "mean_itl_ms", "mean_e2e_latency_ms"]:
        a, b = s.get(key), e.get(key)
        ratio = (b / a) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a else float("nan")
        flag = ""
        if key in ("output_throughput", "mean_tpot_ms") and not (0.9 <= ratio <= 1.1):
            flag, ok = "  <-- differs by more than 10%", False
        print(f"{key:<28} {a!s:>12.12} {b!s:>12.12} {ratio:>8.3f}{flag}")
    if len(sys.argv) > 6:
        expected = int(sys.argv[6])
        for name, record in (("SGLang", s), ("ernie", e)):
            if record.get("completed") != expected:
                print(f"{name}: {record.get('completed')} of {expected} requests completed (failed requests)")
                ok = False
    print(f"\nverdict ({label}): " + ("AGREE within 10% (throughput, TPOT)" if ok else "DISAGREE"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
