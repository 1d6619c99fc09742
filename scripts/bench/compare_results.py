#!/usr/bin/env python3
"""Puts the reports of SGLang's bench_serving and `ernie bench-serving` side by side and compares the key numbers.

Usage: compare_results.py LABEL SGLANG_STDOUT SGLANG_JSONL ERNIE_STDOUT ERNIE_JSONL [NUM_PROMPTS]
       compare_results.py --runs BACKEND NUM_PROMPTS OUT_DIR REPEATS
Exit status 0 if output throughput and mean TPOT agree within 10% and (given NUM_PROMPTS) both runs completed every
request, else 1. With --runs: the runs OUT_DIR/{sglang,ernie}-BACKEND-{1..REPEATS}.jsonl (and .time, the client's
`user system elapsed` seconds from /usr/bin/time) of crosscheck.sh side by side, each tool's run-to-run spread, and
the verdict on the means over the runs.
"""
import json
import re
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


def client_cpu(path):
    """User + system seconds from a /usr/bin/time -f "%U %S %e" file (its last line), or None."""
    try:
        fields = open(path).read().split("\n")
        line = [l for l in fields if l.strip()][-1].split()
        return float(line[0]) + float(line[1])
    except (OSError, IndexError, ValueError):
        return None


def prometheus_sums(path):
    """{metric name without prefix and labels: value} of the `_sum`/`_count` series in a Prometheus text file,
    summed over label sets; None when the file is missing."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        match = re.match(r"^(?:[a-zA-Z0-9_]+:)?([a-zA-Z0-9_]+_(?:sum|count))(?:\{[^}]*\})?\s+([0-9.eE+-]+)$", line)
        if match:
            values[match.group(1)] = values.get(match.group(1), 0.0) + float(match.group(2))
    return values


def server_view(base):
    """The server's own mean inter-token latency and TTFT (ms) over one run, from the /metrics snapshots taken
    before and after it (BASE.metrics-before/-after); includes the run's warm-up request. {} when unavailable."""
    before, after = prometheus_sums(base + ".metrics-before"), prometheus_sums(base + ".metrics-after")
    if not before or not after:
        return {}
    view = {}
    for key, name in (("server_mean_itl_ms", "inter_token_latency_seconds"),
                      ("server_mean_ttft_ms", "time_to_first_token_seconds"),
                      ("server_mean_e2e_ms", "e2e_request_latency_seconds")):
        count = after.get(name + "_count", 0) - before.get(name + "_count", 0)
        total = after.get(name + "_sum", 0) - before.get(name + "_sum", 0)
        if count > 0:
            view[key] = 1000 * total / count
    return view


def runs(backend, num_prompts, out_dir, repeats):
    keys = ["output_throughput", "mean_tpot_ms", "median_tpot_ms", "mean_ttft_ms", "mean_e2e_latency_ms"]
    server_keys = ["server_mean_itl_ms", "server_mean_ttft_ms", "tpot_over_server_itl"]
    table = {"SGLang": [], "ernie": []}
    ok = True
    for tool, prefix in (("SGLang", "sglang"), ("ernie", "ernie")):
        for run in range(1, repeats + 1):
            base = f"{out_dir}/{prefix}-{backend}-{run}"
            record = last_record(base + ".jsonl")
            record["client_cpu_s"] = client_cpu(base + ".time")
            record.update(server_view(base))
            if record.get("server_mean_itl_ms") and record.get("mean_tpot_ms"):
                record["tpot_over_server_itl"] = record["mean_tpot_ms"] / record["server_mean_itl_ms"]
            if record.get("completed") != num_prompts:
                print(f"{tool} run {run}: {record.get('completed')} of {num_prompts} requests completed")
                ok = False
            table[tool].append(record)
    print(f"\n### {backend}: {repeats} runs of each tool")
    columns = keys + ["client_cpu_s"] + server_keys
    print(f"{'run':<10}" + "".join(f"{k:>22}" for k in columns))
    for tool in table:
        for run, record in enumerate(table[tool], 1):
            cells = [record.get(k) for k in columns]
            print(f"{tool + ' ' + str(run):<10}" + "".join(f"{c:>22.3f}" if isinstance(c, float) and c < 10 else
                                                         f"{c:>22.2f}" if isinstance(c, (int, float)) else
                                                         f"{'-':>22}" for c in cells))
    print(f"\n{'metric':<22} {'SGLang mean':>12} {'spread':>8} {'ernie mean':>12} {'spread':>8} {'ratio':>8}")
    for key in keys + ["client_cpu_s"] + server_keys:
        values = {tool: [r[key] for r in table[tool] if isinstance(r.get(key), (int, float))] for tool in table}
        if not values["SGLang"] or not values["ernie"]:
            continue
        mean = {tool: sum(v) / len(v) for tool, v in values.items()}
        spread = {tool: (max(v) / min(v) - 1) if min(v) > 0 else float("nan") for tool, v in values.items()}
        ratio = mean["ernie"] / mean["SGLang"] if mean["SGLang"] else float("nan")
        flag = ""
        if key in ("output_throughput", "mean_tpot_ms") and not (0.9 <= ratio <= 1.1):
            flag, ok = "  <-- differs by more than 10%", False
        print(f"{key:<22} {mean['SGLang']:>12.3f} {spread['SGLang']:>7.1%} {mean['ernie']:>12.3f} "
              f"{spread['ernie']:>7.1%} {ratio:>8.3f}{flag}")
    if all(isinstance(r.get("tpot_over_server_itl"), float) for rows in table.values() for r in rows):
        print("(tpot_over_server_itl: the tool's mean TPOT over the server's own mean inter-token latency in the same "
              "run — how faithfully each tool saw the server, whatever the server's speed in that run)")
    print(f"\nverdict ({backend}, means of {repeats} runs): "
          + ("AGREE within 10% (throughput, TPOT)" if ok else "DISAGREE"))
    return 0 if ok else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--runs":
        backend, num_prompts, out_dir, repeats = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
        return runs(backend, num_prompts, out_dir, repeats)
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
    views = [server_view(path[:-len(".jsonl")]) for path in (sgl_jsonl, ern_jsonl)]
    for key in ("server_mean_itl_ms", "server_mean_ttft_ms"):
        if all(key in v for v in views):
            a, b = views[0][key], views[1][key]
            print(f"{key:<28} {a:>12.2f} {b:>12.2f} {b / a:>8.3f}  (the server's own figure during each run)")
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
