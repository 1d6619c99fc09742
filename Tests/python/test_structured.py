"""Structured output end to end: every output of `ernie serve` under a JSON schema, regex or EBNF grammar is checked
with independent validators (the `jsonschema` package, Python's `re`, Python's own parser), through the official
`openai` client and SGLang's /generate. With the demo model the texts are odd, but they must always be valid."""
import ast
import concurrent.futures
import json
import re

import jsonschema
import openai
import pytest

PROMPT = [{"role": "user", "content": "Reply with the requested data."}]

# Schemas whose languages are finite (every string, array and number bounded): every output must end and validate.
BOUNDED_SCHEMAS = {
    "person": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3},
        "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 15},
                                                     "zip": {"type": "string", "pattern": "[0-9]{5}"}},
                    "required": ["city"]}},
        "required": ["name", "age", "address"]},
    "status": {"type": "object", "properties": {
        "status": {"enum": ["ok", "error", "pending"]},
        "code": {"type": "integer", "minimum": 100, "maximum": 599},
        "retry": {"type": "boolean"},
        "detail": {"type": ["string", "null"], "maxLength": 30}},
        "required": ["status", "code", "retry"], "additionalProperties": False},
    "points": {"type": "array", "items": {"type": "object", "properties": {
        "x": {"type": "number", "minimum": -10, "maximum": 10},
        "y": {"type": "number", "exclusiveMinimum": -10, "exclusiveMaximum": 10}},
        "required": ["x", "y"]}, "minItems": 1, "maxItems": 4},
    "order": {"type": "object", "properties": {"order": {"type": "object", "properties": {
        "id": {"type": "string", "pattern": "[A-Z]{2}-[0-9]{4}"},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": "string", "maxLength": 12},
            "qty": {"type": "integer", "minimum": 1, "maximum": 99}}, "required": ["sku", "qty"]}, "maxItems": 3},
        "paid": {"type": "boolean"}}, "required": ["id", "items", "paid"]}}, "required": ["order"]},
    "any_of": {"type": "object", "properties": {"value": {"anyOf": [
        {"type": "integer", "minimum": 0, "maximum": 1000}, {"type": "string", "maxLength": 10},
        {"type": "boolean"}]}}, "required": ["value"]},
    "refs": {"$defs": {"point": {"type": "object", "properties": {
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180}}, "required": ["lat", "lon"]}},
        "type": "object", "properties": {"from": {"$ref": "#/$defs/point"}, "to": {"$ref": "#/$defs/point"}},
        "required": ["from", "to"]},
    "tuple": {"type": "array", "prefixItems": [{"type": "string", "maxLength": 10},
                                               {"type": "integer", "minimum": 0, "maximum": 9},
                                               {"enum": ["x", "y"]}], "items": False, "minItems": 3},
    "formats": {"type": "object", "properties": {"date": {"type": "string", "format": "date"},
                                                 "id": {"type": "string", "format": "uuid"},
                                                 "email": {"type": "string", "format": "email"}},
                "required": ["date", "id", "email"]},
    "lengths": {"type": "object", "properties": {"code": {"type": "string", "minLength": 3, "maxLength": 3},
                                                 "count": {"type": "integer", "exclusiveMinimum": 0,
                                                           "exclusiveMaximum": 10}},
                "required": ["code", "count"]},
    "const": {"type": "object", "properties": {"kind": {"const": "fixed"}, "version": {"enum": [1, 2.5, None]},
                                               "flags": {"type": "array", "items": {"type": "boolean"},
                                                         "minItems": 2, "maxItems": 2}},
              "required": ["kind", "version", "flags"]},
}

SEEDS_PER_SCHEMA = 24  # 10 schemas x 24 seeds = 240 sampled requests


def validator(schema):
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def chat_json(client, model_name, schema, seed, stream=False, max_tokens=1024, temperature=1.0):
    kwargs = dict(model=model_name, messages=PROMPT, max_tokens=max_tokens, temperature=temperature, top_p=0.95,
                  seed=seed,
                  response_format={"type": "json_schema",
                                   "json_schema": {"name": "answer", "schema": schema, "strict": True}})
    if seed is None:
        del kwargs["seed"]
    if not stream:
        choice = client.chat.completions.create(**kwargs).choices[0]
        return choice.message.content, choice.finish_reason
    text, finish = "", None
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    return text, finish


def run_all(function, jobs, workers=16):
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: function(*job), jobs))


def test_every_json_schema_output_validates(client, model_name, needs_chat):
    jobs = [(name, seed) for name in BOUNDED_SCHEMAS for seed in range(SEEDS_PER_SCHEMA)]
    outputs = run_all(lambda name, seed: (name, seed, *chat_json(client, model_name, BOUNDED_SCHEMAS[name], seed)),
                      jobs)
    assert len(outputs) >= 200
    distinct = set()
    for name, seed, text, finish in outputs:
        assert finish == "stop", f"{name} seed {seed}: finish_reason {finish}: {text!r}"
        value = json.loads(text)
        errors = [e.message for e in validator(BOUNDED_SCHEMAS[name]).iter_errors(value)]
        assert not errors, f"{name} seed {seed}: {text!r}: {errors}"
        distinct.add(text)
    assert len(distinct) > len(outputs) // 2, "sampling with different seeds gives different outputs"


UNBOUNDED_SCHEMAS = {
    "tree": {"$defs": {"node": {"type": "object", "properties": {
        "label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}},
        "required": ["label"]}}, "$ref": "#/$defs/node"},
    "free_text": {"type": "object", "properties": {"title": {"type": "string"}, "body": {"type": "string"},
                                                   "score": {"type": "number"}}, "required": ["title", "score"]},
    "map": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
}


def test_unbounded_schemas_validate_whenever_they_finish(client, model_name, needs_chat):
    jobs = [(name, seed) for name in UNBOUNDED_SCHEMAS for seed in range(12)]
    outputs = run_all(lambda name, seed: (name, *chat_json(client, model_name, UNBOUNDED_SCHEMAS[name], seed,
                                                            max_tokens=400)), jobs)
    finished = 0
    for name, text, finish in outputs:
        if finish != "stop":
            assert finish == "length"
            continue
        finished += 1
        value = json.loads(text)
        assert not list(validator(UNBOUNDED_SCHEMAS[name]).iter_errors(value)), f"{name}: {text!r}"
    assert finished >= len(outputs) // 3


def test_json_object(client, model_name, needs_chat):
    finished = 0
    for seed in range(8):
        response = client.chat.completions.create(model=model_name, messages=PROMPT, max_tokens=300, seed=seed,
                                                  temperature=0.8, response_format={"type": "json_object"})
        choice = response.choices[0]
        if choice.finish_reason == "stop":
            finished += 1
            assert isinstance(json.loads(choice.message.content), dict)
        else:
            assert choice.message.content.startswith("{")
    assert finished >= 3


def test_streaming_and_non_streaming_agree(client, model_name, needs_chat):
    for name in ["person", "order", "refs"]:
        for seed in [1, 2]:
            full = chat_json(client, model_name, BOUNDED_SCHEMAS[name], seed)
            streamed = chat_json(client, model_name, BOUNDED_SCHEMAS[name], seed, stream=True)
            assert streamed == full, name


def test_greedy_streaming_and_non_streaming_agree(client, model_name, needs_chat):
    """Greedy decoding under every bounded schema and every regex: the streamed text is the non-streamed text."""
    def greedy_json(name, stream):
        return chat_json(client, model_name, BOUNDED_SCHEMAS[name], None, stream=stream, temperature=0.0)

    outputs = run_all(lambda name, stream: (name, stream, greedy_json(name, stream)),
                      [(name, stream) for name in BOUNDED_SCHEMAS for stream in (False, True)])
    results = {(name, stream): output for name, stream, output in outputs}
    for name in BOUNDED_SCHEMAS:
        full, streamed = results[(name, False)], results[(name, True)]
        assert streamed == full, name
        text, finish = full
        assert finish == "stop", (name, text)
        validator(BOUNDED_SCHEMAS[name]).validate(json.loads(text))

    def greedy_regex(pattern, stream):
        kwargs = dict(model=model_name, prompt="Value:", max_tokens=100, temperature=0.0,
                      extra_body={"regex": pattern})
        if not stream:
            choice = client.completions.create(**kwargs).choices[0]
            return choice.text, choice.finish_reason
        text, finish = "", None
        for chunk in client.completions.create(stream=True, **kwargs):
            if chunk.choices:
                text += chunk.choices[0].text or ""
                finish = chunk.choices[0].finish_reason or finish
        return text, finish

    outputs = run_all(lambda pattern, stream: (pattern, stream, greedy_regex(pattern, stream)),
                      [(pattern, stream) for pattern in REGEXES for stream in (False, True)])
    results = {(pattern, stream): output for pattern, stream, output in outputs}
    for pattern in REGEXES:
        assert results[(pattern, True)] == results[(pattern, False)], pattern
        text, finish = results[(pattern, False)]
        assert finish == "stop" and re.fullmatch(pattern, text), (pattern, text)


REGEXES = [r"\(\d{3}\) \d{3}-\d{4}", r"[A-Z][a-z]{2,8}( [A-Z][a-z]{2,8}){0,2}", r"(yes|no|maybe)",
           r"\d{1,3}(\.\d{1,3}){3}", r"[a-z]{1,10}@[a-z]{1,10}\.(com|org|net)", r"-?\d{1,5}(\.\d{1,3})?",
           r"[\u4e00-\u9fff]{2,4}", r"[^\n\"]{1,12}!"]


def test_regex_outputs_match(http, client, model_name, needs_tokenizer):
    def generate(pattern, seed):
        body = {"text": "Here it is:", "sampling_params": {"regex": pattern, "temperature": 1.0, "seed": seed,
                                                            "max_new_tokens": 200}}
        response = http.post("/generate", json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        return pattern, result["text"], result["meta_info"]["finish_reason"]["type"]

    outputs = run_all(generate, [(p, s) for p in REGEXES for s in range(6)])
    for pattern, text, finish in outputs:
        assert finish == "stop", (pattern, text)
        assert re.fullmatch(pattern, text), (pattern, text)
    # The same through the OpenAI completions route (SGLang's extra `regex` field).
    for pattern in REGEXES[:3]:
        response = client.completions.create(model=model_name, prompt="Value:", max_tokens=100, temperature=1.0,
                                             seed=7, extra_body={"regex": pattern})
        assert re.fullmatch(pattern, response.choices[0].text), pattern


ARITHMETIC = r'''
root ::= expr
expr ::= term (ws ("+" | "-" | "*") ws term){0,3}
term ::= [1-9] [0-9]{0,2} | "(" expr ")"
ws   ::= " "?
'''


def test_ebnf_outputs_parse(http, needs_tokenizer):
    for seed in range(10):
        body = {"text": "Compute", "sampling_params": {"ebnf": ARITHMETIC, "temperature": 1.0, "seed": seed,
                                                        "max_new_tokens": 200}}
        result = http.post("/generate", json=body).json()
        text = result["text"]
        if result["meta_info"]["finish_reason"]["type"] != "stop":
            continue  # nested parentheses can run on
        tree = ast.parse(text, mode="eval")
        allowed = (ast.Expression, ast.BinOp, ast.Constant, ast.Add, ast.Sub, ast.Mult)
        assert all(isinstance(node, allowed) for node in ast.walk(tree)), text


@pytest.mark.parametrize("body, message", [
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "patternProperties": {"a": {}}, "minProperties": 1}}}},
     "unsupported JSON schema keywords 'patternProperties', 'minProperties'"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "bogus"}}}},
     "unknown type 'bogus'"),
    ({"regex": "(a"}, "invalid regex"),
    ({"ebnf": "root ::= missing"}, "'missing' is used but never defined"),
    ({"ebnf": "root ::= root \"x\" | \"y\""}, "left-recursive"),
    ({"response_format": {"type": "json_object"}, "regex": "a"}, "cannot be combined"),
    ({"response_format": {"type": "yaml"}}, "'response_format.type' must be"),
])
def test_bad_constraints_are_400s_naming_the_problem(client, model_name, needs_chat, body, message):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model=model_name, messages=PROMPT, max_tokens=5, extra_body=body)
    assert message in str(error.value)


def test_generate_json_schema_parameter(http, needs_tokenizer):
    schema = BOUNDED_SCHEMAS["status"]
    response = http.post("/generate", json={"text": "Status:", "sampling_params": {
        "json_schema": json.dumps(schema), "temperature": 0.9, "seed": 3, "max_new_tokens": 300}})
    assert response.status_code == 200
    result = response.json()
    assert result["meta_info"]["finish_reason"]["type"] == "stop"
    validator(schema).validate(json.loads(result["text"]))
    bad = http.post("/generate", json={"text": "x", "sampling_params": {"json_schema": "{", "regex": "a"}})
    assert bad.status_code == 400
