#!/usr/bin/env python3
"""Prints the `ernie bench-serving` / sglang.bench_serving report (late-2025 layout) of each run in a results JSONL
file (`--output-file`), so runs whose console output was not kept can still be read in full.

    python3 scripts/bench/render_report.py results.jsonl
"""
import json
import sys


def row(label, value):
    if isinstance(value, float):
        value = f"{value:.2f}"
    return f"{label:<40} {str(value):<10}"


def render(d):
    rate = d["request_rate"]
    lines = ["{:=^50}".format(" Serving Benchmark Result "),
             row("Backend:", d["backend"]),
             row("Traffic request rate:", "inf" if rate == float("inf") else rate),
             row("Max request concurrency:", d["max_concurrency"] if d["max_concurrency"] else "not set"),
             row("Successful requests:", d["completed"]),
             row("Benchmark duration (s):", d["duration"]),
             row("Total input tokens:", d["total_input_tokens"]),
             row("Total input text tokens:", d["total_input_text_tokens"]),
             row("Total input vision tokens:", d["total_input_vision_tokens"]),
             row("Total generated tokens:", d["total_output_tokens"]),
             row("Total generated tokens (retokenized):", d["total_output_tokens_retokenized"]),
             row("Request throughput (req/s):", d["request_throughput"]),
             row("Input token throughput (tok/s):", d["input_throughput"]),
             row("Output token throughput (tok/s):", d["output_throughput"]),
             row("Peak output token throughput (tok/s):", float(d["max_output_tokens_per_s"])),
             row("Peak concurrent requests:", d["max_concurrent_requests"]),
             row("Total token throughput (tok/s):", d["total_throughput"]),
             row("Concurrency:", d["concurrency"])]
    if d.get("accept_length"):
        lines.append(row("Accept length:", d["accept_length"]))
    sections = [("End-to-End Latency", [("Mean E2E Latency (ms):", "mean_e2e_latency_ms"),
                                        ("Median E2E Latency (ms):", "median_e2e_latency_ms")]),
                ("Time to First Token", [("Mean TTFT (ms):", "mean_ttft_ms"), ("Median TTFT (ms):", "median_ttft_ms"),
                                         ("P99 TTFT (ms):", "p99_ttft_ms")]),
                ("Time per Output Token (excl. 1st token)", [("Mean TPOT (ms):", "mean_tpot_ms"),
                                                             ("Median TPOT (ms):", "median_tpot_ms"),
                                                             ("P99 TPOT (ms):", "p99_tpot_ms")]),
                ("Inter-Token Latency", [("Mean ITL (ms):", "mean_itl_ms"), ("Median ITL (ms):", "median_itl_ms"),
                                         ("P95 ITL (ms):", "p95_itl_ms"), ("P99 ITL (ms):", "p99_itl_ms"),
                                         ("Max ITL (ms):", "max_itl_ms")])]
    for title, rows in sections:
        lines.append("{:-^50}".format(title))
        lines += [row(label, float(d[key])) for label, key in rows if key in d]
    lines.append("=" * 50)
    return "\n".join(lines)


if __name__ == "__main__":
    for line in open(sys.argv[1]):
        if line.strip():
            print(render(json.loads(line)))
            print()
