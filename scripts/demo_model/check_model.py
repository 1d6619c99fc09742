#!/usr/bin/env python3
"""Check a demo model folder after the GPU run (CPU only, a few seconds):

- the hub files are there; model.safetensors <= 40 MB; tensor names, shapes and dtypes are those of the ERNIE-4.5
  MoE releases (per-expert matrices, FP32 router and correction bias, bf16 elsewhere, no lm_head since tied);
- the correction biases are not all zero (the aux-free balancing ran);
- transformers' Ernie4_5_MoeForCausalLM loads the folder with no missing/unexpected keys, and AutoTokenizer loads it;
- greedy chat answers through transformers for a few prompts (printed).

    python3 scripts/demo_model/check_model.py models/ernie-demo
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open

MAX_BYTES = 40_000_000
PROMPTS = ["What is the capital of France?", "Write a short poem about the ocean.",
           "Explain what a neural network is in simple terms."]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--max-new", type=int, default=64)
    args = ap.parse_args()
    d = args.folder
    errors: list[str] = []
    for f in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.model",
              "tokenizer_config.json", "special_tokens_map.json"):
        if not (d / f).exists():
            errors.append(f"missing {f}")
    if errors:
        sys.exit("\n".join(errors))
    size = (d / "model.safetensors").stat().st_size
    if size > MAX_BYTES:
        errors.append(f"model.safetensors is {size} bytes > {MAX_BYTES}")
    cfg = json.loads((d / "config.json").read_text())
    E, L = cfg["moe_num_experts"], cfg["num_hidden_layers"]
    moe_layers = [i for i in range(L) if (i + 1) % cfg["moe_layer_interval"] == 0
                  and cfg["moe_layer_start_index"] <= i <= cfg["moe_layer_end_index"]]
    expected = {"model.embed_tokens.weight", "model.norm.weight"}
    for i in range(L):
        p = f"model.layers.{i}."
        expected |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight"}
        expected |= {p + f"self_attn.{n}_proj.weight" for n in "qkvo"}
        if i in moe_layers:
            expected |= {p + "mlp.gate.weight", p + "mlp.moe_statics.e_score_correction_bias"}
            expected |= {p + f"mlp.experts.{e}.{n}_proj.weight" for e in range(E) for n in ("gate", "up", "down")}
            if cfg["moe_num_shared_experts"]:
                expected |= {p + f"mlp.shared_experts.{n}_proj.weight" for n in ("gate", "up", "down")}
        else:
            expected |= {p + f"mlp.{n}_proj.weight" for n in ("gate", "up", "down")}
    n_params = 0
    bias_abs = 0.0
    with safe_open(str(d / "model.safetensors"), "pt") as f:
        names = set(f.keys())
        for k in sorted(names):
            t = f.get_tensor(k)
            n_params += t.numel()
            fp32 = k.endswith("mlp.gate.weight") or k.endswith("e_score_correction_bias")
            want = torch.float32 if fp32 else torch.bfloat16
            if t.dtype != want:
                errors.append(f"{k}: dtype {t.dtype}, expected {want}")
            if k.endswith("e_score_correction_bias"):
                if tuple(t.shape) != (1, E):
                    errors.append(f"{k}: shape {tuple(t.shape)}, expected (1, {E})")
                bias_abs = max(bias_abs, t.abs().max().item())
    if names != expected:
        errors.append(f"tensor names differ: missing {sorted(expected - names)[:5]}, extra {sorted(names - expected)[:5]}")
    if moe_layers and bias_abs == 0.0:
        errors.append("all correction biases are zero")
    print(f"{len(names)} tensors, {n_params:,} parameters, {size / 1e6:.2f} MB, max |correction bias| {bias_abs:.4f}")

    from transformers import AutoTokenizer, Ernie4_5_MoeForCausalLM

    model, info = Ernie4_5_MoeForCausalLM.from_pretrained(str(d), dtype=torch.float32, output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        if info.get(key):
            errors.append(f"transformers {key}: {list(info[key])[:5]}")
    tok = AutoTokenizer.from_pretrained(str(d))
    gen = json.loads((d / "generation_config.json").read_text())
    eos = gen["eos_token_id"] if isinstance(gen["eos_token_id"], list) else [gen["eos_token_id"]]
    for p in PROMPTS:
        text = tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([tok(text, add_special_tokens=False).input_ids])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.max_new, do_sample=False,
                             eos_token_id=eos, pad_token_id=0)
        print(f"User: {p}\nAssistant: {tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)!r}\n")
    if errors:
        print("ERRORS:\n  " + "\n  ".join(errors))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
