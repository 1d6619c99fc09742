"""SGLang's native routes with plain HTTP: /generate (single, batch, streaming, logprobs), /tokenize, /detokenize,
/get_model_info, /get_server_info, /flush_cache, /health_generate."""
import re
import contextlib
import json
import time

import httpx

import pytest

IDS = [11, 22, 33, 44, 55]


def sse_events(response):
    """The `data:` payloads of an event stream, checking the framing."""
    events = []
    for block in response.text.split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: ") and "\n" not in block, block
        events.append(block[len("data: "):])
    assert response.text.endswith("\n\n")
    return events


def test_generate_with_input_ids(http):
    response = http.post("/generate", json={"input_ids": IDS, "sampling_params": {"max_new_tokens": 5, "temperature": 0,
                                                                                  "ignore_eos": True}})
    assert response.status_code == 200
    body = response.json()
    assert len(body["output_ids"]) == 5
    meta = body["meta_info"]
    assert meta["prompt_tokens"] == len(IDS) and meta["completion_tokens"] == 5
    assert meta["finish_reason"] == {"type": "length", "length": 5}
    assert isinstance(meta["cached_tokens"], int)


def test_generate_stream_is_cumulative(http):
    request = {"input_ids": IDS, "stream": True, "sampling_params": {"max_new_tokens": 8, "temperature": 0,
                                                                     "ignore_eos": True}}
    full = http.post("/generate", json={**request, "stream": False}).json()
    response = http.post("/generate", json=request)
    assert response.headers["content-type"] == "text/event-stream"
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    previous_text, previous_ids = "", []
    for chunk in chunks:
        assert chunk["text"].startswith(previous_text), "text is cumulative"
        assert chunk["output_ids"][:len(previous_ids)] == previous_ids, "output_ids are cumulative"
        assert chunk["meta_info"]["completion_tokens"] == len(chunk["output_ids"])
        previous_text, previous_ids = chunk["text"], chunk["output_ids"]
    assert [c["meta_info"]["finish_reason"] is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert previous_ids == full["output_ids"] and previous_text == full["text"]


def test_generate_batch_and_n(http):
    response = http.post("/generate", json={"input_ids": [IDS, IDS[:3]],
                                            "sampling_params": {"max_new_tokens": 3, "n": 2, "ignore_eos": True}})
    body = response.json()
    assert isinstance(body, list) and len(body) == 4
    assert [item["meta_info"]["prompt_tokens"] for item in body] == [5, 5, 3, 3]


def test_generate_logprobs(http):
    response = http.post("/generate", json={"input_ids": IDS, "return_logprob": True, "logprob_start_len": 0,
                                            "top_logprobs_num": 2, "return_text_in_logprobs": True,
                                            "sampling_params": {"max_new_tokens": 3, "temperature": 0,
                                                                "ignore_eos": True}})
    meta = response.json()["meta_info"]
    inputs = meta["input_token_logprobs"]
    assert [entry[1] for entry in inputs] == IDS
    assert inputs[0][0] is None and all(entry[0] <= 0 for entry in inputs[1:])
    outputs = meta["output_token_logprobs"]
    assert len(outputs) == 3
    assert meta["input_top_logprobs"][0] is None
    for entry, top in zip(outputs, meta["output_top_logprobs"]):
        assert len(top) == 2 and top[0][0] == pytest.approx(entry[0], abs=1e-5)
        assert isinstance(entry[2], str)


def test_generate_prefill_only(http):
    response = http.post("/generate", json={"input_ids": IDS, "sampling_params": {"max_new_tokens": 0}})
    assert response.status_code == 200
    assert response.json()["output_ids"] == []


def test_generate_text(http, needs_tokenizer):
    response = http.post("/generate", json={"text": "Hello there", "sampling_params": {"max_new_tokens": 4,
                                                                                       "ignore_eos": True}})
    assert response.status_code == 200
    body = response.json()
    tokens = http.post("/tokenize", json={"prompt": "Hello there"}).json()
    assert body["meta_info"]["prompt_tokens"] == tokens["count"]
    detok = http.post("/detokenize", json={"tokens": body["output_ids"]}).json()["prompt"]
    # /generate skips special tokens by default (skip_special_tokens), /detokenize keeps them (as vLLM's does).
    assert re.sub(r"<\|[^<>|]*\|>|</?s>|<unk>|<mask:\d+>", "", detok) == body["text"]


def test_tokenize_round_trip(http, needs_tokenizer, context_length):
    text = "Tokenizers split text into pieces: héllo, 中文, 😀!"
    tokens = http.post("/tokenize", json={"prompt": text}).json()
    assert tokens["count"] == len(tokens["tokens"]) and tokens["max_model_len"] == context_length
    assert http.post("/detokenize", json={"tokens": tokens["tokens"]}).json() == {"prompt": text}


def test_model_and_server_info(http, model_name):
    info = http.get("/get_model_info").json()
    assert info["is_generation"] is True and "model_path" in info and "tokenizer_path" in info
    server = http.get("/get_server_info").json()
    assert server["served_model_name"] == model_name
    assert isinstance(server["internal_states"], list) and server["internal_states"]
    assert "version" in server


def test_flush_cache_and_health_generate(http):
    assert http.post("/flush_cache").status_code == 200
    assert http.get("/health_generate").status_code == 200


def test_flush_cache_is_refused_while_requests_run(base_url, http, api_key, context_length):
    from conftest import metric

    body = {"input_ids": IDS, "stream": True,
            "sampling_params": {"max_new_tokens": context_length - len(IDS), "ignore_eos": True}}
    headers = {"Authorization": f"Bearer {api_key}"}
    with contextlib.ExitStack() as streams:
        # Several long requests, so that some are still running when the flush arrives.
        for _ in range(4):
            running = streams.enter_context(httpx.stream("POST", base_url + "/generate", json=body, headers=headers,
                                                         timeout=120))
            assert running.status_code == 200
        while metric(http, "ernie:num_running_reqs") == 0:
            time.sleep(0.01)
        response = http.post("/flush_cache")
        assert response.status_code == 400
        assert response.json()["error"]["message"]
    # Closing the streams aborted the requests; once they are gone the cache can be flushed again.
    for _ in range(200):
        if http.post("/flush_cache").status_code == 200:
            break
        time.sleep(0.05)
    else:
        pytest.fail("/flush_cache still refused after the running requests were abandoned")



def test_client_that_gives_up_on_a_non_streaming_request_aborts_it(base_url, api_key, http, context_length):
    """Nothing is written to a non-streaming client until the end; its disconnect must still abort the request."""
    from conftest import metric

    tokens_before = metric(http, "ernie:generation_tokens_total")
    budget = 4 * (context_length - len(IDS))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(base_url + "/generate", headers={"Authorization": f"Bearer {api_key}"},
                   json={"input_ids": IDS, "sampling_params": {"max_new_tokens": context_length - len(IDS), "n": 4,
                                                               "ignore_eos": True}},
                   timeout=httpx.Timeout(10, read=0.2))
    for _ in range(400):
        if metric(http, "ernie:num_running_reqs") == 0 and metric(http, "ernie:num_used_tokens") == 0:
            break
        time.sleep(0.05)
    assert metric(http, "ernie:num_running_reqs") == 0
    assert metric(http, "ernie:num_used_tokens") == 0
    generated = metric(http, "ernie:generation_tokens_total") - tokens_before
    assert generated < budget, "the requests were aborted before generating their whole budget"
