#!/usr/bin/env python3
"""Builds ERNIE-4.5-21B-A3B-shaped checkpoints with random weights and transformers' reference outputs, for
`ernie cuda check` on the GPU machine (full-size shapes: hidden 2560, 20/4 heads of 128, 64 experts top-6 of width
1536, shared 3072, vocab 103424):

  <out>/layers-1   layer 0 only (dense SwiGLU, intermediate 12288)
  <out>/layers-2   layer 0 dense + layer 1 MoE
  <out>/layers-28  the whole 21B-A3B (layer 0 dense, layers 1-27 MoE): 43.6 GB of bf16 safetensors

Each folder holds config.json, bf16 safetensors in the hub's per-expert layout, 5 GB shards + index (router and
correction bias in fp32), and reference.json in the format of scripts/fixtures/models/make_model_fixtures.py:
prompt_logprobs and greedy continuations of transformers in float32 on the bf16 weights (eager attention), the
top-1/top-2 margins of each greedy step, and `hidden_states` (scripts/fixtures/models/hidden_states.py): for each
prompt the residual stream after the embedding, after every layer and after the final norm (full float32 rows at a
few positions, the L2 norm at every position), with how far transformers itself in bf16 is from it. `bf16_baseline`
holds transformers-bf16-vs-float32 prompt log-probability errors.

The model is built in bf16 on the GPU, saved, run once in bf16 (the baseline), converted to float32 in place (the
28-layer model takes 87 GB of GPU memory then) and run for the reference. Comparing layers-1 with layers-2 localises
a disagreement to the dense or the MoE layer; layers-28 gives the per-layer picture of the whole model.

Run (GPU machine, PyTorch + transformers 5.x):
  python3 scripts/gpu/make_fullsize_fixture.py --out /tmp/ernie-fullsize                    # layers-1, layers-2
  python3 scripts/gpu/make_fullsize_fixture.py --out /dev/shm/ernie-fullsize28 --layers 28 \\
      --prompts 5,32 --greedy 4
Shrink for a CPU smoke run with --override key=value (e.g. hidden_size=256).

With --model 300b the shapes are ERNIE-4.5-300B-A47B's (hidden 8192, 64/8 heads of 128, dense intermediate 28672,
64 experts top-8 of width 3584, no shared experts, vocab 103424) and layer 1 is made a MoE layer
(moe_layer_start_index 1; the real model's first three layers are dense): layers-2 is then ≈ 8.3 B parameters
(16.6 GB in bf16), for `ernie cuda check --tp 8` on an 8-GPU machine (scripts/gpu/multi_gpu.sh x8):
  python3 scripts/gpu/make_fullsize_fixture.py --model 300b --out /tmp/ernie-300b --layers 2
"""
import argparse
import json
import os
import sys
import time

import torch
from transformers import Ernie4_5_MoeConfig, Ernie4_5_MoeForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = {
    "21b": ("ERNIE-4.5-21B-A3B-PT", {}),
    "300b": ("ERNIE-4.5-300B-A47B-PT", {"moe_layer_start_index": 1}),
}
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures", "models"))
import hidden_states  # noqa: E402

# Full rows are stored at every position of prompts up to this length, else at this many positions.
HIDDEN_ROWS_ALL_UP_TO = 5
HIDDEN_ROWS = 3


class Clock:
    def __init__(self, device):
        self.device = device
        self.t = time.time()
        self.parts = []

    def lap(self, name):
        if self.device == "cuda":
            torch.cuda.synchronize()
        now = time.time()
        self.parts.append((name, now - self.t))
        print(f"  {name}: {now - self.t:.1f}s", flush=True)
        self.t = now


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
            del noise, values


def run_prompts(model, prompts, device):
    """(points, logits) of every prompt in one forward each."""
    return [hidden_states.points(model, torch.tensor([p], device=device)) for p in prompts]


def greedy(model, prompts, count, device):
    tokens, margins = [], []
    with torch.no_grad():
        for prompt in prompts:
            seq = list(prompt)
            out, m = [], []
            for _ in range(count):
                last = model(torch.tensor([seq], device=device)).logits[0, -1].float()
                top2 = torch.topk(last, 2)
                out.append(int(top2.indices[0]))
                m.append(float(top2.values[0] - top2.values[1]))
                seq.append(out[-1])
            tokens.append(out)
            margins.append(m)
    return tokens, margins


def build(out_dir, layers, device, seed, overrides, lengths, greedy_tokens, model="21b"):
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
    clock = Clock(device)
    with torch.device(device):
        model = Ernie4_5_MoeForCausalLM._from_config(config, dtype=torch.bfloat16)
    for module in model.modules():  # the router and its correction bias stay fp32, as in the real checkpoints
        if type(module).__name__.endswith("TopKRouter"):
            module.float()
    model.eval()
    clock.lap("init (bf16)")
    randomize(model, seed, device)
    clock.lap("randomize")
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, max_shard_size="5GB")
    size = sum(os.path.getsize(os.path.join(out_dir, n)) for n in os.listdir(out_dir))
    clock.lap(f"save {size / 1e9:.1f} GB")

    g = torch.Generator(device="cpu").manual_seed(seed)
    prompts = [torch.randint(3, config.vocab_size, (n,), generator=g).tolist() for n in lengths]
    baseline = run_prompts(model, prompts, device)
    clock.lap("bf16 forward")
    model.float()
    if device == "cuda":
        torch.cuda.empty_cache()
    clock.lap("to float32")
    reference = run_prompts(model, prompts, device)
    clock.lap("float32 forward")
    tokens, margins = greedy(model, prompts, greedy_tokens, device)
    clock.lap(f"greedy {greedy_tokens} x {len(prompts)}")

    ref = {"prompts": prompts, "prompt_logprobs": [], "greedy": tokens, "greedy_margins": margins,
           "hidden_states": [], "bf16_baseline": {"prompt_logprob_mean_abs": [], "prompt_logprob_max_abs": []}}
    for p, prompt in enumerate(prompts):
        points, logits = reference[p]
        logprobs = torch.log_softmax(logits, dim=-1)
        ref["prompt_logprobs"].append([logprobs[i, prompt[i + 1]].item() for i in range(len(prompt) - 1)])
        base_points, base_logits = baseline[p]
        mean, worst = hidden_states.logprob_errors(logits, base_logits.float(), prompt)
        ref["bf16_baseline"]["prompt_logprob_mean_abs"].append(mean)
        ref["bf16_baseline"]["prompt_logprob_max_abs"].append(worst)
        positions = hidden_states.stored_positions(len(prompt), HIDDEN_ROWS_ALL_UP_TO, HIDDEN_ROWS)
        ref["hidden_states"].append(hidden_states.entry(p, points, positions, base_points))
    ref["name"] = os.path.basename(out_dir)
    ref["notes"] = (f"{folder} shapes, {layers} layer(s), random weights (seed {seed}), float32 reference "
                    f"on the bf16 weights; {device}; " + ", ".join(f"{n} {s:.1f}s" for n, s in clock.parts))
    path = os.path.join(out_dir, "reference.json")
    with open(path, "w") as f:
        json.dump(ref, f)
    clock.lap("write reference")
    rel = [pt.get("bf16_rel_l2", 0) for entry in ref["hidden_states"] for pt in entry["points"]]
    print(f"{out_dir}: {size / 1e9:.1f} GB, reference.json {os.path.getsize(path) / 1e6:.2f} MB; transformers bf16 vs "
          f"float32: |Δ logprob| mean {ref['bf16_baseline']['prompt_logprob_mean_abs']}, hidden rel L2 up to "
          f"{max(rel):.4f}; total {sum(s for _, s in clock.parts):.1f}s", flush=True)
    del model, baseline, reference
    if device == "cuda":
        torch.cuda.empty_cache()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/ernie-fullsize")
    parser.add_argument("--layers", default="1,2")
    parser.add_argument("--model", choices=sorted(MODELS), default="21b", help="whose shapes (default 21b)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--prompts", default="1,7,33,150", help="prompt lengths, comma-separated")
    parser.add_argument("--greedy", type=int, default=8, help="greedy tokens per prompt")
    parser.add_argument("--override", action="append", default=[],
                        help="config key=value (integers) to shrink the model for a local smoke run")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    args = parser.parse_args()
    overrides = {k: int(v) for k, v in (o.split("=", 1) for o in args.override)}
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # a float32 reference, not TF32
    torch.backends.cudnn.allow_tf32 = False
    lengths = [int(x) for x in args.prompts.split(",")]
    for n in [int(x) for x in args.layers.split(",")]:
        build(os.path.join(args.out, f"layers-{n}"), n, device, args.seed, overrides, lengths, args.greedy,
              args.model)


if __name__ == "__main__":
    main()
