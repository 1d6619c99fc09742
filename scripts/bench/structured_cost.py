#!/usr/bin/env python3
"""What structured output costs, measured end to end against `ernie serve` (issue 8).

Starts `ernie serve` (one or two binaries, e.g. with and without a change, alternately and REPEATS times so that the
machine's drift shows as spread), sends the same workloads through SGLang's streaming /generate and reports per
workload: output tokens/s, time per output token (TPOT: from the first to the last streamed token of a request,
divided by the tokens in between), time to first token (TTFT) and the server's CPU time (user + system, from /proc)
per output token, which other work on a shared machine disturbs least:

  plain         requests without a constraint (ignore_eos, so every request decodes --max-tokens tokens)
  schema        every request under the same JSON schema (compiled once; automaton and masks warm after the first)
  mixed:plain   half of the requests without a constraint, running beside ...
  mixed:schema  ... the other half under the schema: what constrained neighbours cost an unconstrained request
  regex         every request under the same regex
  cold schema   every request with a schema the server has not seen (compile + first masks inside TTFT)

    scripts/bench/structured_cost.py [--binary B] [--compare-binary B2] [--model-path DIR] [--requests N]
        [--concurrency C] [--max-tokens T] [--repeats R] [--json OUT] [--server-arg=ARG ...]

Needs only httpx (from scripts/requirements-test.txt).
"""
import argparse
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "scores": {"type": "array", "items": {"type": "number"}},
    "note": {"type": "string"}}, "required": ["name", "tags", "scores", "note"]}
REGEX = r"([a-z]+ ){1,60}[a-z]+\."


def cold_schema(index):
    """A schema the server has not compiled before (its grammar differs, so the cache cannot serve it)."""
    return {"type": "object", "properties": {
        f"field_{index}": {"type": "string", "maxLength": 40 + index % 50},
        "count": {"type": "integer", "minimum": 0, "maximum": 1000 + index},
        "kind": {"enum": ["a", "b", f"c{index}"]}}, "required": [f"field_{index}", "count", "kind"]}


def start_server(binary, model_path, api_key, extra_args):
    command = [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--api-key", api_key, "--model-path",
               model_path, "--random-seed", "1", "--log-level", "warning", *extra_args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = {}
    ready = threading.Event()

    def pump():
        for line in process.stdout:
            match = re.search(r"listening on (http://\S+)", line)
            if match and "url" not in found:
                found["url"] = match.group(1)
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(300) or "url" not in found:
        process.kill()
        raise SystemExit(f"{binary}: the server did not start")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(found["url"] + "/health", timeout=5).status_code == 200:
                return process, found["url"]
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{binary}: the server did not become healthy")


def stop_server(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def one_request(client, index, max_tokens, constraint):
    params = {"temperature": 1.0, "seed": index, "max_new_tokens": max_tokens}
    if constraint is None:
        params["ignore_eos"] = True
    else:
        params.update(constraint)
    body = {"text": f"Request {index}: describe the item.", "sampling_params": params, "stream": True}
    start = time.perf_counter()
    stamps = []
    last = None
    with client.stream("POST", "/generate", json=body) as response:
        if response.status_code != 200:
            raise SystemExit(f"/generate answered {response.status_code}: {response.read()!r}")
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            last = json.loads(line[6:])
            tokens = last["meta_info"]["completion_tokens"]
            stamps.append((time.perf_counter() - start, tokens))
    if last is None or not stamps:
        raise SystemExit("empty stream")
    tokens = stamps[-1][1]
    first = next(t for t, n in stamps if n > 0)
    tpot = (stamps[-1][0] - first) / (tokens - 1) if tokens > 1 else None
    return {"ttft": first, "tpot": tpot, "tokens": tokens, "latency": stamps[-1][0]}


def cpu_seconds(pid):
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_workload(url, api_key, jobs, concurrency, pid):
    """jobs: (label, index, max_tokens, constraint). Returns (wall seconds, server CPU seconds, {label: [results]})."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=600) as client:
        cpu = cpu_seconds(pid)
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(lambda job: (job[0], one_request(client, *job[1:])), jobs))
        wall = time.perf_counter() - start
        cpu = cpu_seconds(pid) - cpu
    grouped = {}
    for label, result in results:
        grouped.setdefault(label, []).append(result)
    return wall, cpu, grouped


def workloads(requests, max_tokens):
    schema = {"json_schema": json.dumps(SCHEMA)}
    regex = {"regex": REGEX}
    half = requests // 2
    return {
        "plain": [("plain", i, max_tokens, None) for i in range(requests)],
        "schema": [("schema", i, max_tokens, schema) for i in range(requests)],
        "mixed": [("mixed:plain" if i % 2 == 0 else "mixed:schema", i, max_tokens, None if i % 2 == 0 else schema)
                  for i in range(2 * half)],
        "regex": [("regex", i, max_tokens, regex) for i in range(requests)],
        "cold schema": [("cold schema", i, max_tokens, {"json_schema": json.dumps(cold_schema(i + int(time.time())))})
                        for i in range(requests)],
    }


def summarize(wall, cpu, total_tokens, results):
    tokens = sum(r["tokens"] for r in results)
    tpots = [r["tpot"] for r in results if r["tpot"] is not None]
    return {"requests": len(results), "tokens": tokens, "tok_per_s": tokens / wall,
            "server_cpu_ms_per_token": 1000 * cpu / total_tokens,
            "tpot_ms_mean": 1000 * statistics.fmean(tpots) if tpots else None,
            "tpot_ms_median": 1000 * statistics.median(tpots) if tpots else None,
            "ttft_ms_mean": 1000 * statistics.fmean(r["ttft"] for r in results),
            "ttft_ms_median": 1000 * statistics.median(r["ttft"] for r in results)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "debug", "ernie"))
    parser.add_argument("--compare-binary", help="a second binary, run alternately with the first")
    parser.add_argument("--model-path", default=os.path.join(ROOT, "models", "ernie-demo"))
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", action="append", help="workloads to run (default: all)")
    parser.add_argument("--json", help="write the raw figures here")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra argument for `ernie serve` (default: --device cpu)")
    args = parser.parse_args()
    binaries = [args.binary] + ([args.compare_binary] if args.compare_binary else [])
    names = args.only or list(workloads(1, 1))
    figures = {}  # (binary, label) -> [summary per repeat]
    for repeat in range(args.repeats):
        order = binaries if repeat % 2 == 0 else binaries[::-1]
        for binary in order:
            api_key = "sk-bench-" + secrets.token_hex(8)
            process, url = start_server(binary, args.model_path, api_key, args.server_arg or ["--device", "cpu"])
            try:
                # Warm-up: one plain request and one under the schema (compiles it once).
                run_workload(url, api_key, [("warm", 0, 8, None), ("warm", 1, 8, {"json_schema": json.dumps(SCHEMA)}),
                                            ("warm", 2, 8, {"regex": REGEX})], 3, process.pid)
                for name in names:
                    wall, cpu, grouped = run_workload(
                        url, api_key, workloads(args.requests, args.max_tokens)[name], args.concurrency, process.pid)
                    total = sum(r["tokens"] for results in grouped.values() for r in results)
                    for label, results in grouped.items():
                        # A mixed run shares its wall and CPU time: tokens/s per label counts its own tokens only,
                        # CPU per token is over all the run's tokens.
                        figures.setdefault((binary, label), []).append(summarize(wall, cpu, total, results))
            finally:
                stop_server(process)
            print(f"repeat {repeat + 1}/{args.repeats} done: {binary}", file=sys.stderr, flush=True)

    def spread(values):
        values = [v for v in values if v is not None]
        if not values:
            return "-"
        return f"{statistics.fmean(values):8.2f} ± {statistics.pstdev(values):5.2f}"

    print(f"requests {args.requests}, concurrency {args.concurrency}, max tokens {args.max_tokens}, "
          f"repeats {args.repeats} (mean ± population stdev over repeats)")
    print(f"{'binary':<28} {'workload':<14} {'tokens':>7} {'tok/s':>16} {'TPOT ms':>16} {'TTFT ms':>16} "
          f"{'server CPU ms/tok':>18}")
    for (binary, label), runs in figures.items():
        short = os.path.relpath(binary, ROOT) if binary.startswith(ROOT) else binary
        print(f"{short[-28:]:<28} {label:<14} {statistics.fmean(r['tokens'] for r in runs):7.0f} "
              f"{spread([r['tok_per_s'] for r in runs]):>16} {spread([r['tpot_ms_mean'] for r in runs]):>16} "
              f"{spread([r['ttft_ms_mean'] for r in runs]):>16} "
              f"{spread([r['server_cpu_ms_per_token'] for r in runs]):>18}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump([{"binary": b, "workload": l, "runs": r} for (b, l), r in figures.items()], out, indent=1)


if __name__ == "__main__":
    main()
