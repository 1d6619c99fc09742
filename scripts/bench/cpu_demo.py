#!/usr/bin/env python3
"""CPU benchmark of `ernie serve` on the bundled demo model (issue 3's acceptance lines).

(a) Start to first answer: seconds from spawning `ernie serve` (no model arguments; only --port, so it does not
    clash with other servers on a shared machine) until the first chat completion (non-streaming, max_tokens
    --first-tokens, temperature 0) has been received in full. The client starts sending the request right after the
    spawn and retries every 10 ms while the port refuses connections, so the figure includes process start, model
    load and the whole first request. Also reported: the time until the "listening on" line. Target: ≤ 5 s.
(b) Single-stream decode: one streaming chat completion at a time (--decode-tokens tokens with ignore_eos,
    temperature 0), decode rate = (completion tokens − 1) / (time of the last content chunk − time of the first),
    i.e. tokens after the first over the time they took (prefill excluded). Target: ≥ 50 tokens/s.
    Also reported: the server's CPU time (user + system, all threads, from /proc) per generated token — a figure that
    depends far less on what else the machine is running than the wall-clock rate does.

Each measurement is repeated (--starts fresh server starts; --streams streams on one server) and the 1-minute load
average of the machine is printed next to every figure, since the machine may be shared.

    scripts/bench/cpu_demo.py [--binary .build/debug/ernie] [--starts 3] [--streams 3] [--json OUT.json]

Needs only the Python standard library. Exit status 0 when the median of each figure meets its target.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPTS = [
    "Write a short story about a robot who learns to paint.",
    "Explain how a bicycle works to a ten-year-old.",
    "What should I know before adopting a dog?",
]


def load_average():
    return os.getloadavg()[0]


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (Linux /proc), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def describe_binary(binary):
    """'debug' or 'release' from the build folder the binary is in, and the checkout's commit."""
    kind = "release" if "/release/" in os.path.realpath(binary) else "debug"
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        commit += "+uncommitted changes" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return kind, commit


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat_body(prompt, max_tokens, stream, ignore_eos=False):
    body = {
        "model": "ernie-demo", "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
        "temperature": 0, "stream": stream, "ignore_eos": ignore_eos,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body)


def post(port, body, timeout=120):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Server:
    """`ernie serve --port PORT` (plus extra arguments), its output collected; `listening_at` is when the
    "listening on" line arrived (seconds after the spawn)."""

    def __init__(self, binary, port, extra, cwd):
        self.lines = []
        self.listening_at = None
        self.started = time.monotonic()
        self.process = subprocess.Popen([binary, "serve", "--port", str(port), *extra], cwd=cwd,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if self.listening_at is None and re.search(r"listening on http://", line):
                self.listening_at = time.monotonic() - self.started

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def first_answer(binary, extra, cwd, first_tokens, timeout=120):
    """Spawns a server and returns (seconds to the first complete chat answer, seconds to 'listening', answer text,
    server) — the caller stops the server."""
    port = free_port()
    load = load_average()
    server = Server(binary, port, extra, cwd)
    body = chat_body(PROMPTS[0], first_tokens, stream=False)
    deadline = server.started + timeout
    while True:
        if server.process.poll() is not None:
            raise SystemExit("ernie serve exited during startup:\n" + "".join(server.lines))
        try:
            status, data = post(port, body)
            elapsed = time.monotonic() - server.started
            break
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
            if time.monotonic() > deadline:
                server.stop()
                raise SystemExit("no answer within %d s" % timeout)
            time.sleep(0.01)
    if status != 200:
        server.stop()
        raise SystemExit(f"first request failed with HTTP {status}: {data[:500]!r}")
    answer = json.loads(data)["choices"][0]["message"]["content"]
    return elapsed, server.listening_at, answer, load, server


def stream_rate(port, prompt, tokens, server_pid=None):
    """One streaming chat completion; returns (decode tokens/s, completion tokens, seconds to the first chunk,
    server CPU milliseconds per completion token or None).
    Decode rate: completion tokens after the first (from the final usage chunk) over the time from the first to the
    last content chunk."""
    cpu_start = cpu_seconds(server_pid) if server_pid else None
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    start = time.monotonic()
    connection.request("POST", "/v1/chat/completions", body=chat_body(prompt, tokens, True, ignore_eos=True),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"streaming request failed with HTTP {response.status}: {response.read()[:500]!r}")
    times = []
    usage = None
    buffer = b""
    while True:
        piece = response.read1(65536)
        if not piece:
            break
        now = time.monotonic()
        buffer += piece
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            if not event.startswith(b"data: ") or event == b"data: [DONE]":
                continue
            chunk = json.loads(event[len(b"data: "):])
            usage = chunk.get("usage") or usage
            choices = chunk.get("choices") or []
            if choices and choices[0].get("delta", {}).get("content"):
                times.append(now)
    connection.close()
    cpu_end = cpu_seconds(server_pid) if server_pid else None
    if len(times) < 2 or usage is None:
        raise SystemExit("the stream carried fewer than two content chunks, or no usage")
    tokens = usage["completion_tokens"]
    cpu_ms = 1000 * (cpu_end - cpu_start) / tokens if cpu_start is not None and cpu_end is not None else None
    return (tokens - 1) / (times[-1] - times[0]), tokens, times[0] - start, cpu_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "debug", "ernie"))
    parser.add_argument("--starts", type=int, default=3, help="fresh server starts for (a)")
    parser.add_argument("--streams", type=int, default=3, help="streams for (b), on the last server")
    parser.add_argument("--first-tokens", type=int, default=32, help="max_tokens of the first request")
    parser.add_argument("--decode-tokens", type=int, default=256, help="tokens per stream in (b)")
    parser.add_argument("--cwd", default="/tmp", help="working directory of the server (default /tmp: the demo "
                        "model must be found without arguments from anywhere)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `ernie serve` argument")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"no ernie binary at {binary}")

    kind, commit = describe_binary(binary)
    print(f"binary {binary} ({kind} build, commit {commit}), {os.cpu_count()} CPUs, server cwd {args.cwd}, "
          f"niceness {os.nice(0)}", flush=True)
    starts = []
    server = None
    for i in range(args.starts):
        if server is not None:
            server.stop()
        seconds, listening, answer, load, server = first_answer(binary, args.server_arg, args.cwd, args.first_tokens)
        starts.append({"seconds": seconds, "listening": listening, "load": load})
        print(f"(a) start {i + 1}: first chat answer {seconds:.2f} s after spawn (listening after "
              f"{listening if listening is not None else float('nan'):.2f} s), load average {load:.2f}; "
              f"answer: {answer[:80]!r}", flush=True)
    port = int(re.search(r"listening on http://[^:]+:(\d+)", "".join(server.lines)).group(1))
    streams = []
    try:
        stream_rate(port, PROMPTS[1], 16)  # warm-up
        for i in range(args.streams):
            load = load_average()
            rate, tokens, ttft, cpu_ms = stream_rate(port, PROMPTS[(i + 1) % len(PROMPTS)], args.decode_tokens,
                                                     server.process.pid)
            streams.append({"tokens_per_s": rate, "tokens": tokens, "ttft_s": ttft, "load": load,
                            "server_cpu_ms_per_token": cpu_ms})
            cpu_text = f", server CPU {cpu_ms:.2f} ms/token" if cpu_ms is not None else ""
            print(f"(b) stream {i + 1}: {rate:.1f} tokens/s, {tokens} tokens (first after {ttft * 1000:.0f} ms)"
                  f"{cpu_text}, load average {load:.2f}", flush=True)
    finally:
        server.stop()

    start_median = statistics.median(s["seconds"] for s in starts)
    rate_median = statistics.median(s["tokens_per_s"] for s in streams) if streams else 0.0
    cpu_values = [s["server_cpu_ms_per_token"] for s in streams if s["server_cpu_ms_per_token"] is not None]
    cpu_median = statistics.median(cpu_values) if cpu_values else None
    print(f"summary: start→first answer median {start_median:.2f} s (target ≤ 5 s), "
          f"single-stream decode median {rate_median:.1f} tokens/s (target ≥ 50)"
          + (f", server CPU median {cpu_median:.2f} ms/token" if cpu_median is not None else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"binary": binary, "build": kind, "commit": commit, "starts": starts, "streams": streams,
                       "start_median_s": start_median, "decode_median_tokens_per_s": rate_median,
                       "server_cpu_median_ms_per_token": cpu_median}, f, indent=1)
    return 0 if start_median <= 5 and rate_median >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
