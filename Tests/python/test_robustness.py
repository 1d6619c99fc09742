"""Malformed, mistyped, oversized and hostile requests each get a 4xx JSON error, and the server keeps serving."""
import pytest

IDS = [11, 22, 33]


def assert_json_error(response, status=None):
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return error


def assert_still_serving(http):
    assert http.get("/health").status_code == 200
    ok = http.post("/generate", json={"input_ids": IDS, "sampling_params": {"max_new_tokens": 2}})
    assert ok.status_code == 200, ok.text


JSON = {"Content-Type": "application/json"}

CASES = [
    ("malformed JSON", "/v1/completions", b'{"prompt": [1, 2, 3], "max_tokens": ', 400),
    ("trailing garbage", "/generate", b'{"input_ids": [1]} xyz', 400),
    ("deeply nested", "/generate", b"[" * 100000 + b"]" * 100000, 400),
    ("wrong type: prompt", "/v1/completions", b'{"prompt": {"a": 1}, "max_tokens": 2}', 400),
    ("wrong type: messages", "/v1/chat/completions", b'{"messages": "hello"}', 400),
    ("wrong type: stream", "/v1/completions", b'{"prompt": [1, 2], "stream": "yes"}', 400),
    ("wrong type: sampling_params", "/generate", b'{"input_ids": [1], "sampling_params": [1, 2]}', 400),
    ("invalid UTF-8", "/v1/completions", b'{"prompt": "\xff\xfe\xc3\x28", "max_tokens": 2}', 400),
    ("invalid UTF-8 in a key", "/generate", b'{"\xc0\xaf": 1, "input_ids": [1]}', 400),
    ("lone surrogate escape", "/v1/completions", b'{"prompt": "\\ud800", "max_tokens": 2}', 400),
    ("unknown role", "/v1/chat/completions", b'{"messages": [{"role": "robot", "content": "hi"}]}', 400),
    ("out-of-vocabulary token id", "/generate", b'{"input_ids": [1, 2, 99999999]}', 400),
    ("negative token id", "/v1/completions", b'{"prompt": [1, -5], "max_tokens": 1}', 400),
    ("huge token id", "/generate", b'{"input_ids": [1e300]}', 400),
    ("unknown model", "/v1/completions", b'{"model": "nope", "prompt": [1], "max_tokens": 1}', 404),
]


@pytest.mark.parametrize("name,route,body,status", CASES, ids=[c[0] for c in CASES])
def test_bad_request_gets_json_error(http, name, route, body, status):
    response = http.post(route, content=body, headers=JSON)
    assert_json_error(response, status)
    assert_still_serving(http)


def test_over_long_prompt(http, context_length):
    response = http.post("/generate", json={"input_ids": [7] * (context_length + 10)})
    error = assert_json_error(response, 400)
    assert error["code"] == "context_length_exceeded"
    assert_still_serving(http)


def test_over_long_text_prompt(http, context_length, needs_tokenizer):
    response = http.post("/v1/completions", json={"prompt": "word " * (context_length * 2), "max_tokens": 1})
    assert assert_json_error(response, 400)["code"] == "context_length_exceeded"
    assert_still_serving(http)


def test_64_mib_body_with_content_length(http):
    body = b'{"prompt": "' + b"a" * (64 << 20) + b'"}'
    response = http.post("/v1/completions", content=body, headers=JSON)
    assert_json_error(response, 413)
    assert_still_serving(http)


def test_64_mib_body_chunked(http):
    def chunks():
        yield b'{"prompt": "'
        for _ in range(64):
            yield b"a" * (1 << 20)
        yield b'"}'

    response = http.post("/v1/completions", content=chunks(), headers=JSON)
    assert_json_error(response, 413)
    assert_still_serving(http)


def test_wrong_method_and_unknown_route(http):
    assert_json_error(http.get("/v1/completions"), 404)
    assert_json_error(http.post("/v2/everything", json={}), 404)
    assert_still_serving(http)


def test_missing_api_key(base_url):
    import httpx

    response = httpx.post(base_url + "/generate", json={"input_ids": IDS})
    assert_json_error(response, 401)
    assert httpx.get(base_url + "/health").status_code == 200
    assert httpx.get(base_url + "/metrics").status_code == 200
