"""The bundled demo model through the running server, against transformers' outputs committed in
Tests/Fixtures/demo/reference.json (scripts/fixtures/demo/make_demo_fixture.py): the chat route's prompt ids, greedy
continuations (native /generate and the OpenAI chat API) and log-probabilities. Skipped for other models."""
import json
import os

import pytest

from conftest import assert_matches_transformers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "Tests", "Fixtures", "demo", "reference.json"), encoding="utf-8") as f:
    REFERENCE = json.load(f)
CASES = REFERENCE["cases"]
END_TOKENS = {2, 4}  # </s>, <|end_of_sentence|> (generation_config.json)


@pytest.fixture(scope="module")
def demo(server_info):
    path = os.path.normpath(server_info["model_path"])
    if os.path.basename(path) != "ernie-demo" or server_info["skip_tokenizer_init"]:
        pytest.skip("the server under test does not serve the bundled demo model")
    return server_info


@pytest.mark.parametrize("index", range(len(CASES)))
def test_chat_prompt_ids_are_transformers(http, demo, index):
    case = CASES[index]
    response = http.post("/tokenize", json={"messages": case["messages"]})
    assert response.status_code == 200, response.text
    assert response.json()["tokens"] == case["prompt_ids"]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_generate_greedy_and_logprobs_are_transformers(http, demo, index):
    case = CASES[index]
    count = len(case["greedy"])
    response = http.post("/generate", json={
        "input_ids": case["prompt_ids"], "return_logprob": True, "logprob_start_len": 0,
        "sampling_params": {"max_new_tokens": count, "temperature": 0, "ignore_eos": True}})
    assert response.status_code == 200, response.text
    assert_matches_transformers(response.json(), case)


@pytest.mark.parametrize("index", range(len(CASES)))
def test_chat_completion_greedy_text_is_transformers(client, http, demo, model_name, index):
    case = CASES[index]
    greedy = case["greedy"]
    end = next((i for i, t in enumerate(greedy) if t in END_TOKENS), None)
    visible = greedy if end is None else greedy[:end]
    expected = http.post("/detokenize", json={"tokens": visible}).json()["prompt"] if visible else ""
    completion = client.chat.completions.create(model=model_name, messages=case["messages"], temperature=0,
                                                max_tokens=len(greedy))
    choice = completion.choices[0]
    assert choice.message.content == expected
    assert choice.finish_reason == ("length" if end is None else "stop")
    assert completion.usage.prompt_tokens == len(case["prompt_ids"])
    assert completion.usage.completion_tokens == (len(greedy) if end is None else end + 1)
