"""The official `openai` client against `ernie serve`: chat, completions, streaming, usage, logprobs, n, seeds, stop
strings, and the error classes."""
import openai
import pytest

CHAT = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name three colours."}]
TOKEN_PROMPT = [11, 22, 33, 44, 55]
TEXT_PROMPT = "The quick brown fox jumps over the lazy dog. Once upon a time"
GREEDY = {"temperature": 0}
NO_EOS = {"ignore_eos": True}


@pytest.fixture
def prompt(has_tokenizer):
    return TEXT_PROMPT if has_tokenizer else TOKEN_PROMPT


def test_models(client, model_name, context_length):
    models = client.models.list()
    assert [m.id for m in models.data] == [model_name]
    assert client.models.retrieve(model_name).id == model_name


# MARK: completions


def test_completion(client, model_name, prompt, http):
    response = client.completions.create(model=model_name, prompt=prompt, max_tokens=8, extra_body=NO_EOS, **GREEDY)
    assert response.object == "text_completion"
    assert len(response.choices) == 1
    choice = response.choices[0]
    assert choice.finish_reason == "length"
    assert response.usage.completion_tokens == 8
    expected_prompt = len(prompt) if isinstance(prompt, list) else http.post("/tokenize", json={"prompt": prompt}).json()["count"]
    assert response.usage.prompt_tokens == expected_prompt
    assert response.usage.total_tokens == expected_prompt + 8


def test_streaming_completion_matches_non_streaming(client, model_name, prompt):
    full = client.completions.create(model=model_name, prompt=prompt, max_tokens=12, extra_body=NO_EOS, **GREEDY)
    chunks = list(client.completions.create(model=model_name, prompt=prompt, max_tokens=12, stream=True,
                                            stream_options={"include_usage": True}, extra_body=NO_EOS, **GREEDY))
    assert all(chunk.choices for chunk in chunks[:-1]), "every chunk before the usage chunk has choices"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 12
    text = "".join(c.choices[0].text for c in chunks[:-1])
    assert text == full.choices[0].text
    assert [c.choices[0].finish_reason for c in chunks[:-1] if c.choices[0].finish_reason] == ["length"]


def test_streaming_completion_without_usage(client, model_name, prompt):
    chunks = list(client.completions.create(model=model_name, prompt=prompt, max_tokens=4, stream=True,
                                            extra_body=NO_EOS))
    assert chunks and all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_completion_logprobs_agree_with_native_generate(client, model_name, http):
    response = client.completions.create(model=model_name, prompt=TOKEN_PROMPT, max_tokens=6, logprobs=3,
                                         extra_body=NO_EOS, **GREEDY)
    logprobs = response.choices[0].logprobs
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.top_logprobs) == 6
    native = http.post("/generate", json={"input_ids": TOKEN_PROMPT, "return_logprob": True, "top_logprobs_num": 3,
                                          "sampling_params": {"max_new_tokens": 6, "temperature": 0,
                                                              "ignore_eos": True}}).json()
    expected = [entry[0] for entry in native["meta_info"]["output_token_logprobs"]]
    assert logprobs.token_logprobs == pytest.approx(expected, abs=1e-5)
    for chosen, top in zip(logprobs.token_logprobs, logprobs.top_logprobs):
        assert chosen <= 0
        assert max(top.values()) == pytest.approx(chosen, abs=1e-5), "greedy picks the most likely token"


def test_echo_with_logprobs_scores_the_prompt(client, model_name):
    response = client.completions.create(model=model_name, prompt=TOKEN_PROMPT, max_tokens=0, echo=True, logprobs=1)
    logprobs = response.choices[0].logprobs
    assert len(logprobs.tokens) == len(TOKEN_PROMPT)
    assert logprobs.token_logprobs[0] is None
    assert all(value <= 0 for value in logprobs.token_logprobs[1:])
    assert response.usage.completion_tokens == 0


def test_n_choices(client, model_name, prompt):
    response = client.completions.create(model=model_name, prompt=prompt, max_tokens=6, n=3, temperature=1.0,
                                         seed=5, extra_body=NO_EOS)
    assert sorted(choice.index for choice in response.choices) == [0, 1, 2]
    assert response.usage.completion_tokens == 18


def test_same_seed_same_text(client, model_name, prompt):
    def run(seed):
        return client.completions.create(model=model_name, prompt=prompt, max_tokens=16, temperature=1.0, seed=seed,
                                         extra_body=NO_EOS)

    first, second = run(1234), run(1234)
    assert first.choices[0].text == second.choices[0].text
    assert first.usage.completion_tokens == second.usage.completion_tokens == 16


def test_batch_of_token_prompts(client, model_name):
    response = client.completions.create(model=model_name, prompt=[TOKEN_PROMPT, TOKEN_PROMPT[:2]], max_tokens=3,
                                         extra_body=NO_EOS)
    assert sorted(choice.index for choice in response.choices) == [0, 1]
    assert response.usage.prompt_tokens == len(TOKEN_PROMPT) + 2


def test_stop_string_is_not_returned(client, model_name, needs_tokenizer):
    seeded = {"temperature": 1.0, "seed": 21, "extra_body": NO_EOS}
    full = client.completions.create(model=model_name, prompt=TEXT_PROMPT, max_tokens=32, **seeded)
    text = full.choices[0].text
    # A stop string from the second half of the (seeded, hence repeatable) output: the text must then end right
    # before its first occurrence.
    windows = [i for i in range(len(text) // 2, len(text) - 1) if text[i:i + 2].isascii() and text[i:i + 2].isalpha()]
    if not windows:
        pytest.fail(f"the model produced no ASCII letters to pick a stop string from: {text!r}")
    stop = text[windows[0]:windows[0] + 2]
    response = client.completions.create(model=model_name, prompt=TEXT_PROMPT, max_tokens=32,
                                         stop=[stop, "\u2603\u2603"], **seeded)
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.text == text[:text.index(stop)]
    assert stop not in choice.text
    streamed = client.completions.create(model=model_name, prompt=TEXT_PROMPT, max_tokens=32, stop=stop,
                                         stream=True, **seeded)
    assert "".join(chunk.choices[0].text for chunk in streamed) == choice.text


# MARK: chat


def test_chat(client, model_name, needs_chat, http):
    response = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=10, extra_body=NO_EOS,
                                              **GREEDY)
    assert response.object == "chat.completion"
    message = response.choices[0].message
    assert message.role == "assistant" and isinstance(message.content, str)
    assert response.choices[0].finish_reason == "length"
    rendered = http.post("/tokenize", json={"messages": CHAT, "add_generation_prompt": True}).json()
    assert response.usage.prompt_tokens == rendered["count"]
    assert response.usage.completion_tokens == 10


def test_chat_content_parts_equal_plain_text(client, model_name, needs_chat):
    parts = [{"role": "user", "content": [{"type": "text", "text": "Name three colours."}]}]
    plain = [{"role": "user", "content": "Name three colours."}]
    a = client.chat.completions.create(model=model_name, messages=parts, max_tokens=6, **GREEDY)
    b = client.chat.completions.create(model=model_name, messages=plain, max_tokens=6, **GREEDY)
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.usage.prompt_tokens == b.usage.prompt_tokens


def test_streaming_chat_with_usage(client, model_name, needs_chat):
    full = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=12, extra_body=NO_EOS, **GREEDY)
    chunks = list(client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=12, stream=True,
                                                 stream_options={"include_usage": True}, extra_body=NO_EOS, **GREEDY))
    assert all(chunk.choices for chunk in chunks[:-1]), "every chunk before the usage chunk has choices"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens == 12
    assert chunks[-1].usage.prompt_tokens == full.usage.prompt_tokens
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    assert content == full.choices[0].message.content
    assert chunks[-2].choices[0].finish_reason == "length"


def test_chat_logprobs(client, model_name, needs_chat):
    response = client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=5, logprobs=True,
                                              top_logprobs=3, extra_body=NO_EOS, **GREEDY)
    content = response.choices[0].logprobs.content
    assert len(content) == response.usage.completion_tokens == 5
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        values = [alt.logprob for alt in entry.top_logprobs]
        assert values == sorted(values, reverse=True)
        assert values[0] == pytest.approx(entry.logprob, abs=1e-5), "greedy picks the most likely token"
        assert bytes(entry.bytes).decode("utf-8") == entry.token


def test_chat_n_and_seed(client, model_name, needs_chat):
    def run():
        return client.chat.completions.create(model=model_name, messages=CHAT, max_tokens=8, n=2, temperature=1.0,
                                              seed=99, extra_body=NO_EOS)

    first, second = run(), run()
    assert [c.index for c in first.choices] == [0, 1]
    assert [c.message.content for c in first.choices] == [c.message.content for c in second.choices]
    assert first.usage.completion_tokens == 16


# MARK: errors


def test_bad_request_error(client, model_name, prompt):
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=model_name, prompt=prompt, max_tokens=4, temperature=-1)
    assert info.value.status_code == 400
    assert info.value.body["param"] == "temperature"


def test_bad_request_for_over_long_prompt(client, model_name, context_length):
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=model_name, prompt=[5] * (context_length + 1), max_tokens=1)
    assert info.value.body["code"] == "context_length_exceeded"


def test_bad_request_for_unknown_role(client, model_name):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=model_name, messages=[{"role": "narrator", "content": "x"}])


def test_authentication_error(base_url, model_name, prompt):
    wrong = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.completions.create(model=model_name, prompt=prompt, max_tokens=1)


def test_not_found_error(client, prompt):
    with pytest.raises(openai.NotFoundError) as info:
        client.completions.create(model="no-such-model", prompt=prompt, max_tokens=1)
    assert info.value.body["code"] == "model_not_found"
