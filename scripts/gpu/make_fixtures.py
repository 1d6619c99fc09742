#!/usr/bin/env python3
"""Writes Tests/Fixtures/cuda/host_reference.json: independent reference values for ErnieCUDA's host-side tests.

* `random_weights`: the dummy-weight formula (ErnieModel DummyWeights / ernie_random_bf16) computed with numpy
  uint64 arithmetic, as float32 and as torch's bf16 rounding of it.
* `bf16_rounding`: float32 values and the bf16 bits torch produces for them (`tensor.to(torch.bfloat16)`).
* `rope_inv_freq`: transformers' inverse frequencies for theta 500000 and head_dim 128 (float32).
Run: python3 scripts/gpu/make_fixtures.py
"""
import json
import os

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MASK = (1 << 64) - 1


def dummy(seed, index, scale):
    z = (seed + (index + 1) * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z ^= z >> 31
    u = (np.float32(z >> 40) + np.float32(0.5)) * np.float32(1.0 / 16777216.0)
    return (np.float32(2.0) * u - np.float32(1.0)) * np.float32(scale)


def bf16_bits(values):
    t = torch.tensor(np.asarray(values, dtype=np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().astype(np.uint16).tolist()


def main():
    cases = []
    for seed, scale in [(0, 0.02), (12345, 1.0), (0xFFFFFFFFFFFFFFFF, 0.5), (987654321987654321, 3.0)]:
        idx = [0, 1, 2, 3, 1000, 123456789, 2**40 + 7]
        vals = [float(dummy(seed, i, scale)) for i in idx]
        cases.append({"seed": str(seed), "scale": scale, "indices": idx, "float32": vals, "bf16_bits": bf16_bits(vals)})
    rng = np.random.default_rng(7)
    specials = [0.0, -0.0, 1.0, -1.0, 1.00390625, 1.005859375, 1.0078125, 3.0e38, -3.4e38, 1e-40, -2.5e-39, 65504.0]
    floats = specials + rng.standard_normal(40).astype(np.float32).tolist() + (rng.standard_normal(20) * 1e5).tolist()
    floats = [float(np.float32(f)) for f in floats]
    head_dim, theta = 128, 500000.0
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype=torch.float) / head_dim))
    out = {
        "random_weights": cases,
        "bf16_rounding": {"float32": floats, "bf16_bits": bf16_bits(floats)},
        "rope_inv_freq": {"theta": theta, "head_dim": head_dim, "float32": inv_freq.tolist()},
    }
    path = os.path.join(ROOT, "Tests", "Fixtures", "cuda", "host_reference.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
