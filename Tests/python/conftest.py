"""Fixtures for the end-to-end tests of `ernie serve` (started by scripts/test-python)."""
import contextlib
import os
import re
import signal
import subprocess
import threading
import time

import httpx
import openai
import pytest


def _require_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run these tests through scripts/test-python", returncode=2)
    return value


@pytest.fixture(scope="session")
def base_url():
    return _require_env("ERNIE_BASE_URL")


@pytest.fixture(scope="session")
def api_key():
    return _require_env("ERNIE_API_KEY")


@pytest.fixture(scope="session")
def http(base_url, api_key):
    """Plain HTTP with the API key."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=120) as client:
        yield client


@pytest.fixture(scope="session")
def client(base_url, api_key):
    """The official OpenAI client (no retries, so errors surface as they are)."""
    return openai.OpenAI(base_url=base_url + "/v1", api_key=api_key, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def server_info(http):
    response = http.get("/get_server_info")
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="session")
def model_name(client):
    return client.models.list().data[0].id


@pytest.fixture(scope="session")
def has_tokenizer(server_info):
    return not server_info["skip_tokenizer_init"]


@pytest.fixture(scope="session")
def context_length(server_info):
    return server_info["context_length"]


@pytest.fixture
def needs_tokenizer(has_tokenizer):
    if not has_tokenizer:
        pytest.skip("the model under test has no tokenizer (served with --skip-tokenizer-init)")


@pytest.fixture
def needs_chat(needs_tokenizer, http):
    probe = http.post("/tokenize", json={"messages": [{"role": "user", "content": "hi"}]})
    if probe.status_code == 400 and "no chat template" in probe.json()["error"]["message"]:
        pytest.skip("the model under test has no chat template")


def assert_matches_transformers(body, case):
    """A /generate response with logprobs against a transformers fixture case: the greedy ids, then prompt and output
    log-probabilities within 1e-3."""
    assert body["output_ids"] == case["greedy"]
    meta = body["meta_info"]
    inputs = [entry[0] for entry in meta["input_token_logprobs"][1:]]
    assert len(inputs) == len(case["prompt_logprobs"])
    assert max(abs(a - b) for a, b in zip(inputs, case["prompt_logprobs"])) < 1e-3
    outputs = [entry[0] for entry in meta["output_token_logprobs"]]
    assert max(abs(a - b) for a, b in zip(outputs, case["greedy_logprobs"])) < 1e-3


def metric(http, name):
    """The value of an unlabelled-by-us metric sample `name{model_name=...}` from /metrics."""
    text = http.get("/metrics").text
    match = re.search(r"^" + re.escape(name) + r"\{[^}]*\} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def server_arguments():
    """The main server's `ernie serve` arguments without --port and --api-key (and their values)."""
    args = _require_env("ERNIE_SERVER_ARGS").split("\x1f")
    cleaned = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("--port", "--api-key"):
            skip = True
            continue
        cleaned.append(arg)
    return cleaned


@contextlib.contextmanager
def spawn_server(extra_args, api_key="sk-spawned"):
    """Starts another `ernie serve` like the main one (same model) with `extra_args`; yields (process, base_url)."""
    binary = _require_env("ERNIE_BIN")
    command = [binary, "serve", *server_arguments(), "--port", "0", "--api-key", api_key, *extra_args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = {}
    ready = threading.Event()
    lines = []

    def pump():
        for line in process.stdout:
            lines.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match and "url" not in found:
                found["url"] = match.group(1)
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert ready.wait(300) and "url" in found, "spawned server did not start:\n" + "".join(lines)
        url = found["url"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        process.output_lines = lines
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
