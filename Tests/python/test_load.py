"""Load: 200 concurrent streaming clients all finish; a third disconnect early (asking for thousands of tokens, so only
an abort ends them quickly), and every KV page is freed."""
import asyncio
import json
import time

import httpx

from conftest import metric

CLIENTS = 200
MAX_TOKENS = 16
ABANDONED_MAX_TOKENS = 3000  # capped by the context length below


async def stream_one(client, index, prompt, disconnect_early, abandoned_max_tokens):
    max_tokens = abandoned_max_tokens if disconnect_early else MAX_TOKENS
    body = {"prompt": prompt, "max_tokens": max_tokens, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True}, "temperature": 0.8, "seed": index}
    if isinstance(prompt, list):
        # Token ids only (no tokenizer): completions stream no text, so use the native route, which streams every
        # step's ids, to have something to disconnect after.
        return await stream_native(client, index, prompt, disconnect_early, max_tokens)
    async with client.stream("POST", "/v1/completions", json=body) as response:
        assert response.status_code == 200, await response.aread()
        finish_reason, usage, done, chunks = None, None, False, 0
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            payload = line[len("data: "):]
            if payload == "[DONE]":
                done = True
                break
            chunk = json.loads(payload)
            chunks += 1
            if disconnect_early and chunks >= 2:
                return "disconnected"
            for choice in chunk["choices"]:
                finish_reason = choice["finish_reason"] or finish_reason
            usage = chunk.get("usage") or usage
        assert done, f"client {index}: stream ended without [DONE]"
        assert finish_reason == "length", f"client {index}: finish_reason {finish_reason}"
        assert usage["completion_tokens"] == MAX_TOKENS
        return "finished"


async def stream_native(client, index, prompt, disconnect_early, max_tokens):
    body = {"input_ids": prompt, "stream": True, "sampling_params": {"max_new_tokens": max_tokens, "ignore_eos": True,
                                                                     "temperature": 0.8, "seed": index}}
    async with client.stream("POST", "/generate", json=body) as response:
        assert response.status_code == 200, await response.aread()
        last, chunks = None, 0
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                break
            last = json.loads(line[len("data: "):])
            chunks += 1
            if disconnect_early and chunks >= 2:
                return "disconnected"
        assert last["meta_info"]["finish_reason"]["type"] == "length"
        assert last["meta_info"]["completion_tokens"] == max_tokens
        return "finished"


async def run_clients(base_url, api_key, prompt, abandoned_max_tokens):
    limits = httpx.Limits(max_connections=CLIENTS + 10, max_keepalive_connections=CLIENTS + 10)
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, limits=limits,
                                 timeout=httpx.Timeout(600)) as client:
        tasks = [stream_one(client, i, prompt, i % 3 == 0, abandoned_max_tokens) for i in range(CLIENTS)]
        return await asyncio.gather(*tasks)


def test_concurrent_streaming_clients_and_disconnects(base_url, api_key, http, has_tokenizer, context_length):
    prompt = "Count with me: one two three" if has_tokenizer else [11, 22, 33, 44, 55, 66]
    requests_before = metric(http, "ernie:num_requests_total")
    tokens_before = metric(http, "ernie:generation_tokens_total")
    started = time.monotonic()
    abandoned_max_tokens = min(ABANDONED_MAX_TOKENS, context_length - 64)
    results = asyncio.run(run_clients(base_url, api_key, prompt, abandoned_max_tokens))
    elapsed = time.monotonic() - started
    assert results.count("finished") == CLIENTS - len(range(0, CLIENTS, 3))
    assert results.count("disconnected") == len(range(0, CLIENTS, 3))
    print(f"{CLIENTS} streaming clients in {elapsed:.1f} s")

    # Every request, finished or abandoned, ends and frees its pages.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if metric(http, "ernie:num_used_tokens") == 0 and metric(http, "ernie:num_running_reqs") == 0:
            break
        time.sleep(0.25)
    assert metric(http, "ernie:num_running_reqs") == 0
    assert metric(http, "ernie:num_used_tokens") == 0
    assert metric(http, "ernie:num_requests_total") - requests_before == CLIENTS
    # The abandoned requests were aborted, not run to their 3000 tokens.
    finished, abandoned = results.count("finished"), results.count("disconnected")
    generated = metric(http, "ernie:generation_tokens_total") - tokens_before
    assert finished * MAX_TOKENS <= generated < finished * MAX_TOKENS + abandoned * abandoned_max_tokens // 4
    # And the server still answers.
    assert http.post("/generate", json={"input_ids": [1, 2, 3], "sampling_params": {"max_new_tokens": 2}}).status_code == 200
