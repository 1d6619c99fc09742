"""Servers started by the test itself: queue limits (503 with Retry-After), graceful SIGTERM with streams in flight,
refused --tp."""
import json
import os
import re
import signal
import subprocess
import threading
import time

import httpx
import openai
import pytest

from conftest import server_arguments, spawn_server

IDS = [11, 22, 33, 44]


def test_full_queue_is_503_with_retry_after(context_length):
    """One request runs, two wait, the rest of a burst of concurrent requests is refused with 503 + Retry-After."""
    with spawn_server(["--max-running-requests", "1", "--max-queued-requests", "2"]) as (_, url):
        headers = {"Authorization": "Bearer sk-spawned"}
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-spawned", max_retries=0, timeout=300)
        model = client.models.list().data[0].id
        raw, typed = [], []
        long = min(2000, context_length - len(IDS))
        start = threading.Barrier(12)

        def raw_request():
            start.wait(30)
            response = httpx.post(url + "/generate", headers=headers, timeout=300, json={
                "input_ids": IDS, "sampling_params": {"max_new_tokens": long, "ignore_eos": True}})
            raw.append((response.status_code, response.headers.get("retry-after"), response.json()))

        def openai_request():
            start.wait(30)
            try:
                client.completions.create(model=model, prompt=IDS, max_tokens=long, extra_body={"ignore_eos": True})
                typed.append(200)
            except openai.InternalServerError as error:
                typed.append(error.status_code)

        threads = [threading.Thread(target=raw_request) for _ in range(8)]
        threads += [threading.Thread(target=openai_request) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        statuses = [status for status, _, _ in raw] + typed
        assert len(statuses) == 12
        assert set(statuses) <= {200, 503}
        assert 1 <= statuses.count(200) <= 6, statuses
        refused = [(retry, body) for status, retry, body in raw if status == 503]
        assert refused, "some raw requests were refused"
        assert all(retry and body["error"]["message"] for retry, body in refused)
        assert 503 in typed, "the openai client raised InternalServerError for a 503"


def test_sigterm_ends_streams_and_exits_zero(context_length):
    with spawn_server([]) as (process, url):
        headers = {"Authorization": "Bearer sk-spawned"}
        outcomes = []
        first_chunk = threading.Barrier(6)

        def stream(i):
            body = {"input_ids": IDS, "stream": True,
                    "sampling_params": {"max_new_tokens": context_length - len(IDS), "ignore_eos": True}}
            seen_first = False
            last = None
            try:
                with httpx.stream("POST", url + "/generate", json=body, headers=headers, timeout=120) as response:
                    for line in response.iter_lines():
                        if line.startswith("data: ") and line != "data: [DONE]":
                            last = json.loads(line[6:])
                            if not seen_first:
                                seen_first = True
                                first_chunk.wait(60)
                        elif line == "data: [DONE]":
                            outcomes.append(("done", last["meta_info"]["finish_reason"]))
                            return
                outcomes.append(("closed", last and last["meta_info"]["finish_reason"]))
            except httpx.HTTPError as error:
                outcomes.append(("error", repr(error)))

        threads = [threading.Thread(target=stream, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        first_chunk.wait(120)
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads), "streams must end after SIGTERM"
        assert process.wait(120) == 0, "".join(process.output_lines)
        assert len(outcomes) == 5
        # Each stream was ended by the server: finished, or aborted with a finish reason, never left hanging.
        for kind, detail in outcomes:
            assert kind == "done", outcomes
            assert detail["type"] in ("abort", "length"), outcomes


@pytest.mark.parametrize("args, message", [
    (["--tp", "2", "--ep-size", "3"], "--ep-size 3 must divide --tp 2"),
    (["--tp", "1000", "--device", "cpu"], "num_attention_heads"),
    (["--dp", "0"], "--dp must be at least 1"),
])
def test_parallel_layouts_that_cannot_work_are_refused(args, message):
    binary = os.environ["ERNIE_BIN"]
    result = subprocess.run([binary, "serve", *server_arguments(), "--port", "0", *args], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_chat_template_file_overrides_the_tokenizers(tmp_path, has_tokenizer):
    if not has_tokenizer:
        pytest.skip("the model under test has no tokenizer")
    template = tmp_path / "template.jinja"
    template.write_text("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
                        "{% if add_generation_prompt %}[assistant]{% endif %}{{ greeting | default('') }}")
    with spawn_server(["--chat-template", str(template)]) as (_, url):
        headers = {"Authorization": "Bearer sk-spawned"}
        messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi!"}]
        rendered = httpx.post(url + "/tokenize", headers=headers, json={
            "messages": messages, "chat_template_kwargs": {"greeting": " hello"}}).json()
        text = httpx.post(url + "/detokenize", headers=headers, json={"tokens": rendered["tokens"]}).json()["prompt"]
        assert text == "[system] Be kind.\n[user] Hi!\n[assistant] hello"
        plain = httpx.post(url + "/tokenize", headers=headers, json={"prompt": text}).json()
        assert plain["tokens"] == rendered["tokens"]


def test_bad_chat_template_file_fails_startup(tmp_path):
    template = tmp_path / "broken.jinja"
    template.write_text("{% for m in messages %}{{ m.content }")
    args = os.environ["ERNIE_SERVER_ARGS"].split("\x1f")
    result = subprocess.run([os.environ["ERNIE_BIN"], "serve", *args, "--chat-template", str(template)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "--chat-template" in result.stderr
