#!/usr/bin/env python3
"""A tiny stand-in for an SGLang server with known timing, for trying the benchmark scripts without an engine.

Serves GET /v1/models, GET /get_server_info, GET /get_model_info, POST /flush_cache, and POST /generate,
/v1/completions, /v1/chat/completions (streaming or not). The first token comes TTFT seconds after the request, then
one token every ITL seconds; token k is the word " w<k>" (tokenizers count it as one or two tokens). Requests are
served concurrently (one thread each); ignore_eos/max tokens are honoured exactly.

Usage: stand_in_server.py [--port 30000] [--ttft 0.1] [--itl 0.02] [--log FILE]
(--log appends every request body as a JSON line, e.g. to check that two benchmark tools sent the same prompts.)
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOG_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *_):
        pass

    def send_json(self, value, status=200):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/models":
            self.send_json({"object": "list", "data": [{"id": "stand-in", "object": "model"}]})
        elif self.path in ("/get_server_info", "/get_model_info"):
            self.send_json({"model_path": "stand-in", "internal_states": [{}]})
        else:
            self.send_json({"error": "not found"}, 404)

    def do_POST(self):
        start = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if ARGS.log:
            with LOG_LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "body": body}, ensure_ascii=False) + "\n")
        if self.path == "/flush_cache":
            self.send_json({})
            return
        if self.path == "/generate":
            n = (body.get("sampling_params") or {}).get("max_new_tokens", 16)
        elif self.path == "/v1/completions":
            n = body.get("max_tokens", 16)
        elif self.path == "/v1/chat/completions":
            n = body.get("max_completion_tokens") or body.get("max_tokens") or 16
        else:
            self.send_json({"error": "not found"}, 404)
            return
        words = [f" w{k}" for k in range(n)]
        if not body.get("stream"):
            time.sleep(ARGS.ttft + max(0, n - 1) * ARGS.itl)
            text = "".join(words)
            usage = {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1}
            if self.path == "/generate":
                self.send_json({"text": text, "meta_info": {"completion_tokens": n, "prompt_tokens": 1}})
            elif self.path == "/v1/completions":
                self.send_json({"choices": [{"index": 0, "text": text, "finish_reason": "length"}], "usage": usage})
            else:
                self.send_json({"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                             "finish_reason": "length"}], "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        text = ""
        for k, word in enumerate(words):
            delay = start + ARGS.ttft + k * ARGS.itl - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            text += word
            if self.path == "/generate":
                chunk = {"text": text, "meta_info": {"completion_tokens": k + 1, "prompt_tokens": 1}}
            elif self.path == "/v1/completions":
                chunk = {"choices": [{"index": 0, "text": word, "finish_reason": None}]}
            else:
                chunk = {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--ttft", type=float, default=0.1)
    parser.add_argument("--itl", type=float, default=0.02)
    parser.add_argument("--log", default="")
    ARGS = parser.parse_args()
    # A listen backlog as deep as a real server's: with the default of 5, a benchmark that opens more connections at
    # once gets some SYNs dropped and waits for the kernel's 1 s retransmit, which shows up as 1 s TTFT outliers.
    ThreadingHTTPServer.request_queue_size = 512
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    print(f"stand-in server on http://127.0.0.1:{ARGS.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
