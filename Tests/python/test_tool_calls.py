"""`--tool-call-parser ernie45` and `--reasoning-parser ernie45` end to end through the official `openai` client.

Forced tool calls (`tool_choice` required or a named function) come from the demo model itself under the grammar of
the tool-call format. For the Thinking-model format (reasoning, `<response>`, several tool calls) the demo model is
driven with SGLang's `ebnf` field set to a grammar whose only sentence is a hand-written ERNIE-Thinking output: the
real engine, detokenizer, parsers, SSE encoder and client all run, with token (and therefore stream-chunk)
boundaries chosen by the model. The same way, random mixtures of the format's pieces (mostly malformed output) check
that anything the model writes degrades to plain content, never to an error."""
import concurrent.futures
import json

import jsonschema
import openai
import pytest

from conftest import spawn_server

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string", "maxLength": 20},
                                                    "unit": {"enum": ["c", "f"]}},
                   "required": ["location", "unit"], "additionalProperties": False}}}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Web search",
    "parameters": {"type": "object", "properties": {"query": {"type": "string", "maxLength": 30},
                                                    "limit": {"type": "integer", "minimum": 1, "maximum": 10}},
                   "required": ["query"]}}}
TOOLS = {"get_weather": WEATHER, "search": SEARCH}
MESSAGES = [{"role": "user", "content": "What is the weather in Beijing?"}]


@pytest.fixture(scope="module")
def tool_server(has_tokenizer):
    if not has_tokenizer:
        pytest.skip("needs a tokenizer")
    with spawn_server(["--tool-call-parser", "ernie45"]) as (_, url):
        yield openai.OpenAI(base_url=url + "/v1", api_key="sk-spawned", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def thinking_server(has_tokenizer):
    if not has_tokenizer:
        pytest.skip("needs a tokenizer")
    with spawn_server(["--tool-call-parser", "ernie45", "--reasoning-parser", "ernie45"]) as (_, url):
        yield openai.OpenAI(base_url=url + "/v1", api_key="sk-spawned", max_retries=0, timeout=120)


def check_call(call):
    assert call.type == "function"
    assert call.id.startswith("call_") and len(call.id) == 29
    tool = TOOLS[call.function.name]
    jsonschema.validate(json.loads(call.function.arguments), tool["function"]["parameters"])


def test_named_tool_choice(tool_server, model_name):
    for seed in range(4):
        response = tool_server.chat.completions.create(
            model=model_name, messages=MESSAGES, tools=[WEATHER, SEARCH], temperature=1.0, seed=seed,
            tool_choice={"type": "function", "function": {"name": "get_weather"}}, max_tokens=300)
        choice = response.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        assert [call.function.name for call in choice.message.tool_calls] == ["get_weather"]
        check_call(choice.message.tool_calls[0])


def test_required_tool_choice(tool_server, model_name):
    for seed in range(4):
        response = tool_server.chat.completions.create(
            model=model_name, messages=MESSAGES, tools=[WEATHER, SEARCH], tool_choice="required", temperature=1.0,
            seed=seed, max_tokens=400)
        choice = response.choices[0]
        if choice.finish_reason == "length":
            continue
        assert choice.finish_reason == "tool_calls"
        assert choice.message.tool_calls
        for call in choice.message.tool_calls:
            check_call(call)


def test_streamed_tool_call_deltas(tool_server, model_name):
    kwargs = dict(model=model_name, messages=MESSAGES, tools=[WEATHER], temperature=1.0, seed=11, max_tokens=300,
                  tool_choice={"type": "function", "function": {"name": "get_weather"}})
    full = tool_server.chat.completions.create(**kwargs).choices[0].message.tool_calls[0]
    chunks = list(tool_server.chat.completions.create(stream=True, **kwargs))
    calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    first = calls[0][0]
    assert first.index == 0 and first.id.startswith("call_") and first.function.name == "get_weather"
    assert first.function.arguments == ""
    fragments = [delta[0].function.arguments for delta in calls[1:]]
    assert len(fragments) >= 2 and all(delta[0].id is None for delta in calls[1:])
    assert "".join(fragments) == full.function.arguments
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    # The client's own stream accumulator agrees.
    with tool_server.chat.completions.stream(**kwargs) as stream:
        final = stream.get_final_completion().choices[0]
    assert final.message.tool_calls[0].function.arguments == full.function.arguments
    assert final.finish_reason == "tool_calls"


def test_auto_and_none_tool_choice(tool_server, model_name):
    """The same model output holding a tool-call block: parsed into `tool_calls` under `auto` (the default), left as
    content under `none` (no tools then); free output under `auto` never fails."""
    block = '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Oslo", "unit": "c"}}\n</tool_call>'
    kwargs = dict(model=model_name, messages=MESSAGES, tools=[WEATHER, SEARCH], max_tokens=200, temperature=1.0,
                  seed=4, extra_body={"ebnf": literal_grammar("Checking.\n\n" + block)})
    for choice_field in ({}, {"tool_choice": "auto"}):
        choice = tool_server.chat.completions.create(**kwargs, **choice_field).choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content == "Checking."
        assert [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls] == \
            [("get_weather", {"location": "Oslo", "unit": "c"})]
    choice = tool_server.chat.completions.create(tool_choice="none", **kwargs).choices[0]
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    assert choice.message.content == "Checking.\n\n" + block
    for seed in range(4):
        choice = tool_server.chat.completions.create(
            model=model_name, messages=MESSAGES, tools=[WEATHER, SEARCH], max_tokens=40, temperature=1.0,
            seed=seed).choices[0]
        assert choice.finish_reason in ("stop", "length", "tool_calls")
        for call in choice.message.tool_calls or []:
            check_call(call)


def test_tool_choice_errors(client, tool_server, model_name):
    with pytest.raises(openai.BadRequestError, match="needs a server started with --tool-call-parser"):
        client.chat.completions.create(model=model_name, messages=MESSAGES, tools=[WEATHER], tool_choice="required",
                                       max_tokens=5)
    with pytest.raises(openai.BadRequestError, match="not in 'tools'"):
        tool_server.chat.completions.create(model=model_name, messages=MESSAGES, tools=[WEATHER], max_tokens=5,
                                            tool_choice={"type": "function", "function": {"name": "nope"}})
    with pytest.raises(openai.BadRequestError, match="needs 'tools'"):
        tool_server.chat.completions.create(model=model_name, messages=MESSAGES, tool_choice="required", max_tokens=5)


# Hand-written outputs in the ERNIE-4.5-Thinking format (reference §5), with what the parsers must make of them.
RECORDINGS = [
    dict(text="The user asks about Beijing.\nI need get_weather.\n</think>\n\n\n<tool_call>\n"
              '{"name": "get_weather", "arguments": {"location": "北京", "unit": "c"}}\n</tool_call>\n',
         reasoning="The user asks about Beijing.\nI need get_weather.", content=None,
         calls=[("get_weather", {"location": "北京", "unit": "c"})]),
    dict(text="Simple sum 🤔.\n</think>\n\n<response>\n2 + 2 = 4，对吧？\n</response>\n",
         reasoning="Simple sum 🤔.", content="2 + 2 = 4，对吧？", calls=[]),
    dict(text="Two things to do.\n</think>\n\n\n<tool_call>\n"
              '{"name": "search", "arguments": {"query": "say \\"hi\\"", "limit": 3}}\n</tool_call>\n\n<tool_call>\n'
              '{"name": "get_weather", "arguments": {"location": "Paris", "unit": "f"}}\n</tool_call>\n',
         reasoning="Two things to do.", content=None,
         calls=[("search", {"query": 'say "hi"', "limit": 3}), ("get_weather", {"location": "Paris", "unit": "f"})]),
    dict(text="Check first.\n</think>\n\n<response>\nLet me look that up.\n</response>\n\n<tool_call>\n"
              '{"name": "search", "arguments": {"query": "ERNIE 4.5"}}\n</tool_call>',
         reasoning="Check first.", content="Let me look that up.", calls=[("search", {"query": "ERNIE 4.5"})]),
    dict(text="Broken call.\n</think>\n\n<tool_call>\n"
              '{"name": "search", "arguments": {"query": }}\n</tool_call>',
         reasoning="Broken call.", content='<tool_call>\n{"name": "search", "arguments": {"query": }}\n</tool_call>',
         calls=[]),
    dict(text="Never finished thinking", reasoning="Never finished thinking", content=None, calls=[]),
]


def literal_grammar(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'root ::= "{escaped}"'


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda r: r["text"][:20])
def test_thinking_outputs_through_the_server(thinking_server, model_name, recording):
    kwargs = dict(model=model_name, messages=MESSAGES, tools=[WEATHER, SEARCH], max_tokens=1024, temperature=1.0,
                  extra_body={"ebnf": literal_grammar(recording["text"])})
    expected_calls = [(name, args) for name, args in recording["calls"]]
    malformed = recording["text"].startswith("Broken")

    def check_message(message, finish_reason):
        assert message.model_extra.get("reasoning_content") == recording["reasoning"]
        assert message.content == recording["content"]
        calls = message.tool_calls or []
        assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == expected_calls
        assert all(c.id.startswith("call_") for c in calls)
        assert finish_reason == ("tool_calls" if expected_calls else "stop")

    for seed in range(3):  # the model picks different tokenizations, so the stream splits differently
        choice = thinking_server.chat.completions.create(seed=seed, **kwargs).choices[0]
        check_message(choice.message, choice.finish_reason)
        with thinking_server.chat.completions.stream(seed=seed, **kwargs) as stream:
            reasoning = "".join(getattr(event.chunk.choices[0].delta, "reasoning_content", None) or ""
                                for event in stream if event.type == "chunk" and event.chunk.choices)
            final = stream.get_final_completion().choices[0]
        assert (reasoning or None) == recording["reasoning"]
        if malformed:
            # A stream cannot take back a call whose name was already sent: that call stays with the arguments
            # streamed before the error, the rest of the block follows as content, and nothing is lost.
            calls = final.message.tool_calls or []
            assert [c.function.name for c in calls] == ["search"]
            assert calls[0].function.arguments + final.message.content == '{"query": }}\n</tool_call>'
            assert final.finish_reason == "stop"
            continue
        assert (final.message.content or None) == recording["content"]
        assert [(c.function.name, json.loads(c.function.arguments)) for c in final.message.tool_calls or []] \
            == expected_calls
        assert final.finish_reason == ("tool_calls" if expected_calls else "stop")


# Random mixtures of the format's pieces (tags, broken and complete calls, JSON punctuation, multi-byte text): the
# demo model picks among them (SGLang `ebnf`), so the outputs are mostly malformed ERNIE-Thinking text.
FUZZ_GRAMMAR = r"""
root ::= mixed | blocks | calls
mixed ::= piece{0,3} ("</think>" (block | piece){1,6})?
blocks ::= piece{0,2} "</think>" piece{0,2} block (piece{0,2} block){0,2} piece{0,2}
calls ::= piece{0,2} "</think>" piece{0,1} good (piece{0,1} (good | block)){0,2} piece{0,1}
block ::= "<tool_call>\n" (call | piece{0,3}) "\n</tool_call>"
good ::= "<tool_call>\n" call "\n</tool_call>"
call ::= "{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Rome\", \"unit\": \"f\"}}"
    | "{\"name\": \"search\", \"arguments\": {\"query\": \"北京\", \"limit\": 3}}"
piece ::= "<think>" | "</think>" | "\n" | "\n\n" | " " | "<response>" | "</response>" | "<response>\n" | "\n</response>"
    | "<tool_call>" | "</tool_call>" | "<tool_call>\n" | "\n</tool_call>" | "{\"name\": \"search\", \"arguments\": "
    | "{\"query\": \"北京\"}}" | "{\"location\": \"Paris\", \"unit\": \"c\"}}" | "{" | "}" | "\"" | ":" | "[1, 2]"
    | "null" | "🤔" | "text" | "</" | "<"
"""


def expected_reasoning(raw):
    """The documented rule: text before the first `</think>` (a leading `<think>` and its newline dropped, trailing
    newlines dropped), or all of it when `</think>` never comes."""
    head, found, _ = raw.partition("</think>")
    if head.startswith("<think>"):
        head = head[len("<think>"):]
        head = head[1:] if head.startswith("\n") else head
    if found:
        head = head.rstrip("\n")
    return head or None


def accumulate(chunks):
    reasoning, content, calls, finish = "", "", {}, None
    for chunk in chunks:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning += getattr(delta, "reasoning_content", None) or ""
        content += delta.content or ""
        for call in delta.tool_calls or []:
            if call.id is not None:
                assert call.index not in calls and call.function.name
                calls[call.index] = [call.function.name, call.function.arguments or ""]
            else:
                calls[call.index][1] += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    return reasoning or None, content or None, [tuple(calls[i]) for i in sorted(calls)], finish


def test_random_malformed_outputs_degrade_to_content(client, thinking_server, model_name):
    """Whatever the model writes, both parsers answer 200 with a well-formed message: calls only where a block is a
    complete call (arguments a JSON object), the reasoning by the documented rule, everything else as content; the
    stream agrees with the non-streamed message wherever no call broke after its name. The raw output comes from the
    main server (no parsers, special tokens kept) with the same seed."""
    def run(seed):
        mode = ["mixed", "blocks", "calls"][seed % 3]
        grammar = FUZZ_GRAMMAR.replace("root ::= mixed | blocks | calls", "root ::= " + mode)
        kwargs = dict(model=model_name, messages=MESSAGES, tools=[WEATHER, SEARCH], max_tokens=100, temperature=4.0,
                      seed=seed)
        raw = client.chat.completions.create(
            extra_body={"ebnf": grammar, "skip_special_tokens": False}, **kwargs).choices[0]
        extra = {"extra_body": {"ebnf": grammar}}
        choice = thinking_server.chat.completions.create(**kwargs, **extra).choices[0]
        streamed = accumulate(thinking_server.chat.completions.create(stream=True, **kwargs, **extra))
        return seed, raw.message.content or "", raw.finish_reason, choice, streamed

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, range(36)))
    kinds = set()
    for seed, raw, raw_finish, choice, streamed in results:
        message = choice.message
        label = f"seed {seed}: {raw!r}"
        assert choice.finish_reason == raw_finish or (raw_finish == "stop" and choice.finish_reason == "tool_calls"), \
            label
        reasoning = message.model_extra.get("reasoning_content")
        assert reasoning == expected_reasoning(raw), label
        calls = message.tool_calls or []
        for call in calls:
            assert call.id.startswith("call_") and call.type == "function", label
            assert isinstance(json.loads(call.function.arguments), dict), label
            assert f'"name": "{call.function.name}"' in raw, label
        if choice.finish_reason != "length":
            assert (choice.finish_reason == "tool_calls") == bool(calls), label
        used = len(reasoning or "") + len(message.content or "") + sum(len(c.function.arguments) for c in calls)
        assert used <= len(raw), label
        _, found, after = raw.partition("</think>")
        if found and "<tool_call>" not in after and "<response>" not in after:
            assert message.content == (after.lstrip(" \n\r\t") or None), label
        # The stream.
        s_reasoning, s_content, s_calls, s_finish = streamed
        assert s_reasoning == reasoning and s_finish == choice.finish_reason, label
        pairs = [(c.function.name, c.function.arguments) for c in calls]
        if "<tool_call>" not in (message.content or ""):
            assert s_content == message.content and s_calls == pairs, label
        else:
            assert all(pair in s_calls for pair in pairs), label
        if calls:
            kinds.add("complete call")
        if "<tool_call>" in (message.content or ""):
            kinds.add("broken block")
        if len(s_calls) > len(pairs):
            kinds.add("broken after its name")
        if not found:
            kinds.add("no </think>")
    assert kinds == {"complete call", "broken block", "broken after its name", "no </think>"}, kinds
