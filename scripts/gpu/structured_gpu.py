#!/usr/bin/env python3
"""Structured output on the GPU: `ernie serve --device cuda` (the allowed-token bitmask in the CUDA sampling kernel)
must give only outputs that parse and validate, as the CPU tests (Tests/python/test_structured.py) check on the CPU.

    python3 scripts/gpu/structured_gpu.py --port 30000 [--seeds 8]

Standard library only (the GPU machine has no `jsonschema`; when it is importable it is used as well): a small
validator for the keywords the schemas below use, Python's `re` for the regexes. Sampled requests (temperature 1,
several seeds) on chat completions and /generate, and greedy streamed vs non-streamed. Prints one line per check and
a summary; exits 1 on any invalid output.
"""
import argparse
import json
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

SCHEMAS = {
    "status": {"type": "object", "properties": {
        "status": {"enum": ["ok", "error", "pending"]},
        "code": {"type": "integer", "minimum": 100, "maximum": 599},
        "retry": {"type": "boolean"},
        "detail": {"type": ["string", "null"], "maxLength": 30}},
        "required": ["status", "code", "retry"], "additionalProperties": False},
    "person": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3},
        "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 15},
                                                     "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                    "required": ["city"]}},
        "required": ["name", "age", "address"]},
    "points": {"type": "array", "items": {"type": "object", "properties": {
        "x": {"type": "number", "minimum": -10, "maximum": 10},
        "y": {"type": "number", "minimum": -10, "maximum": 10}},
        "required": ["x", "y"]}, "minItems": 1, "maxItems": 4},
    "const": {"type": "object", "properties": {"kind": {"const": "fixed"}, "version": {"enum": [1, 2.5, None]},
                                               "flags": {"type": "array", "items": {"type": "boolean"},
                                                         "minItems": 2, "maxItems": 2}},
              "required": ["kind", "version", "flags"]},
}
REGEXES = [r"[0-9]{3}-[0-9]{4}", r"(yes|no|maybe)", r"[A-Z][a-z]{2,8} [0-9]{1,2}", r"#[0-9a-f]{6}"]

MODEL = ["default"]  # the served model's id, read from /v1/models
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def errors(value, schema, path="$"):
    """The ways `value` breaks `schema` (the keywords used above)."""
    out = []
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: {value!r} is not the const")
    if "enum" in schema and not any(value == e and type(value) is type(e) for e in schema["enum"]):
        out.append(f"{path}: {value!r} not in enum")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = False
        for name in names:
            if name == "integer":
                ok |= isinstance(value, int) and not isinstance(value, bool)
            elif name == "number":
                ok |= isinstance(value, (int, float)) and not isinstance(value, bool)
            else:
                ok |= isinstance(value, TYPES[name])
        if not ok:
            return out + [f"{path}: {value!r} is not {names}"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{path}: {value} < minimum")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{path}: {value} > maximum")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", 1 << 30):
            out.append(f"{path}: longer than maxLength")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 1 << 30):
            out.append(f"{path}: {len(value)} items")
        for i, item in enumerate(value):
            out += errors(item, schema.get("items", {}), f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{path}: missing {key}")
        for key, item in value.items():
            if key in props:
                out += errors(item, props[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: unexpected key {key}")
    return out


def post(base, route, body):
    request = urllib.request.Request(base + route, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.read().decode()


def chat(base, schema, seed, temperature=1.0, stream=False):
    body = {"model": MODEL[0], "messages": [{"role": "user", "content": "Reply with the requested data."}],
            "max_tokens": 512, "temperature": temperature, "top_p": 0.95, "seed": seed, "stream": stream,
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}}
    raw = post(base, "/v1/chat/completions", body)
    if not stream:
        choice = json.loads(raw)["choices"][0]
        return choice["message"]["content"], choice["finish_reason"]
    text, finish = "", None
    for line in raw.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            chunk = json.loads(line[6:])
            for c in chunk.get("choices", []):
                text += c.get("delta", {}).get("content") or ""
                finish = c.get("finish_reason") or finish
    return text, finish


def generate_regex(base, pattern, seed):
    body = {"text": "Answer:", "sampling_params": {"max_new_tokens": 64, "temperature": 1.0, "regex": pattern,
                                                    "sampling_seed": seed}}
    out = json.loads(post(base, "/generate", body))
    return out["text"], out["meta_info"]["finish_reason"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    with urllib.request.urlopen(base + "/v1/models", timeout=30) as response:
        MODEL[0] = json.loads(response.read())["data"][0]["id"]
    try:
        import jsonschema  # noqa: F401
        extra = jsonschema.Draft202012Validator
    except ImportError:
        extra = None
    bad = total = 0
    jobs = [(name, seed) for name in SCHEMAS for seed in range(args.seeds)]
    with ThreadPoolExecutor(16) as pool:
        for (name, seed), (text, finish) in zip(jobs, pool.map(lambda j: chat(base, SCHEMAS[j[0]], j[1]), jobs)):
            total += 1
            try:
                problems = errors(json.loads(text), SCHEMAS[name])
                if extra is not None:
                    problems += [e.message for e in extra(SCHEMAS[name]).iter_errors(json.loads(text))]
            except ValueError as error:
                problems = [f"not JSON: {error}"]
            bad += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} schema {name} seed {seed} finish {finish}: {text[:100]!r} "
                  f"{problems[:2] if problems else ''}")
        rjobs = [(p, s) for p in REGEXES for s in range(args.seeds)]
        for (pattern, seed), (text, finish) in zip(rjobs, pool.map(lambda j: generate_regex(base, *j), rjobs)):
            total += 1
            ok = re.fullmatch(pattern, text) is not None
            bad += not ok
            print(f"{'ok  ' if ok else 'FAIL'} regex {pattern} seed {seed} finish {finish}: {text!r}")
    for name, schema in SCHEMAS.items():
        total += 1
        plain, _ = chat(base, schema, 0, temperature=0.0)
        streamed, _ = chat(base, schema, 0, temperature=0.0, stream=True)
        same = plain == streamed and not errors(json.loads(plain), schema)
        bad += not same
        print(f"{'ok  ' if same else 'FAIL'} greedy streamed == non-streamed, valid: schema {name}: {plain[:80]!r}")
    print(f"structured on the GPU: {total - bad}/{total} outputs valid")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
