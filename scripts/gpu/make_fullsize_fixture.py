#!/usr/bin/env python3
"""Builds ERNIE-4.5-21B-A3B-shaped checkpoints with random weights and transformers' reference outputs, for
`ernie cuda check` on the GPU machine (full-size shapes: hidden 2560, 20/4 heads of 128, 64 experts top-6 of width
1536, shared 3072, vocab 103424), with fewer layers so they fit a quick run:

  <out>/layers-1  layer 0 only (dense SwiGLU, intermediate 12288)
  <out>/layers-2  layer 0 dense + layer 1 MoE

Each folder holds config.json, bf16 safetensors (router and correction bias in fp32) and reference.json in the
format of scripts/fixtures/models/make_model_fixtures.py: prompt_logprobs (transformers in float32 on the bf16
weights, eager attention), greedy continuations and their top-1/top-2 margins. Comparing layers-1 with layers-2
localises a disagreement to the dense or the MoE layer.

Run (GPU machine, PyTorch + transformers 5.x): python3 scripts/gpu/make_fullsize_fixture.py --out /tmp/ernie-fullsize

With --model 300b the shapes are ERNIE-4.5-300B-A47B's (hidden 8192, 64/8 heads of 128, dense intermediate 28672,
64 experts top-8 of width 3584, no shared experts, vocab 103424) and layer 1 is made a MoE layer
(moe_layer_start_index 1; the real model's first three layers are dense): layers-2 is then ≈ 8.3 B parameters
(16.6 GB in bf16), for `ernie cuda check --tp 8` on an 8-GPU machine (scripts/gpu/multi_gpu.sh x8).
"""
import argparse
import json
import os
import time

import torch
from transformers import Ernie4_5_MoeConfig, Ernie4_5_MoeForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = {
    "21b": ("ERNIE-4.5-21B-A3B-PT", {}),
    "300b": ("ERNIE-4.5-300B-A47B-PT", {"moe_layer_start_index": 1}),
}


def randomize(model, seed, device):
    g = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            noise = torch.randn(p.shape, generator=g, device=device, dtype=torch.float32)
            if name.endswith("norm.weight"):
                values = 1 + 0.1 * noise
            elif "e_score_correction_bias" in name:
                values = 0.01 * noise
            elif name.endswith("gate.weight"):
                values = 0.03 * noise
            else:
                values = 0.02 * noise
            p.copy_(values.to(p.dtype))


def reference(model, vocab, seed, lengths, greedy_tokens, device):
    g = torch.Generator(device="cpu").manual_seed(seed)
    prompts = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in lengths]
    out = {"prompts": prompts, "prompt_logprobs": [], "greedy": [], "greedy_margins": []}
    with torch.no_grad():
        for prompt in prompts:
            logits = model(torch.tensor([prompt], device=device)).logits[0].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            out["prompt_logprobs"].append([logprobs[i, prompt[i + 1]].item() for i in range(len(prompt) - 1)])
            seq = list(prompt)
            greedy, margins = [], []
            for _ in range(greedy_tokens):
                last = model(torch.tensor([seq], device=device)).logits[0, -1].float()
                top2 = torch.topk(last, 2)
                greedy.append(int(top2.indices[0]))
                margins.append(float(top2.values[0] - top2.values[1]))
                seq.append(greedy[-1])
            out["greedy"].append(greedy)
            out["greedy_margins"].append(margins)
    return out


def build(out_dir, layers, device, seed, overrides, model="21b"):
    folder, model_overrides = MODELS[model]
    with open(os.path.join(ROOT, "models", "configs", folder, "config.json")) as f:
        raw = json.load(f)
    raw.update(model_overrides)
    raw.update(overrides)
    raw["num_hidden_layers"] = layers
    raw.pop("num_nextn_predict_layers", None)
    raw["torch_dtype"] = "bfloat16"
    config = Ernie4_5_MoeConfig(**raw)
    config._attn_implementation = "eager"
    t0 = time.time()
    with torch.device(device):
        model = Ernie4_5_MoeForCausalLM(config).to(torch.bfloat16)
    for module in model.modules():  # the router and its correction bias stay fp32, as in the real checkpoints
        if type(module).__name__.endswith("TopKRouter"):
            module.float()
    randomize(model, seed, device)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    t1 = time.time()
    model = model.float().eval()
    ref = reference(model, config.vocab_size, seed, [1, 7, 33, 150], 8, device)
    ref["name"] = os.path.basename(out_dir)
    ref["notes"] = f"{folder} shapes, {layers} layer(s), random weights (seed {seed}), float32 reference"
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"{out_dir}: built+saved {t1 - t0:.1f}s, reference {time.time() - t1:.1f}s")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/ernie-fullsize")
    parser.add_argument("--layers", default="1,2")
    parser.add_argument("--model", choices=sorted(MODELS), default="21b", help="whose shapes (default 21b)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--override", action="append", default=[],
                        help="config key=value (integers) to shrink the model for a local smoke run")
    args = parser.parse_args()
    overrides = {k: int(v) for k, v in (o.split("=", 1) for o in args.override)}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for n in [int(x) for x in args.layers.split(",")]:
        build(os.path.join(args.out, f"layers-{n}"), n, device, args.seed, overrides, args.model)


if __name__ == "__main__":
    main()
