"""The demo model's training module: ERNIE-4.5 MoE (transformers' `Ernie4_5_MoeForCausalLM` semantics) written for
fast training, plus conversion to the Hugging Face hub checkpoint layout.

Same math as transformers (reference: ernie45-architecture.md §3):
- pre-norm decoder, RMSNorm eps 1e-5 (normalised in fp32, cast back, times weight), no biases anywhere;
- GQA attention, scale 1/sqrt(head_dim), interleaved (GPT-J) RoPE computed in fp32, theta 500000;
- layer 0 a dense SwiGLU MLP, layers 1.. MoE: FP32 router (autocast off) -> softmax -> top-k on
  softmax + e_score_correction_bias (selection only) -> unbiased probabilities of the chosen experts renormalised
  (denominator clamped at moe_norm_min) -> weighted sum of SwiGLU experts + shared experts (one SwiGLU of width
  moe_intermediate_size * moe_num_shared_experts, unweighted);
- final RMSNorm, tied LM head.

Only the expert computation is organised differently: every expert is evaluated for every token as ONE wide SwiGLU
(all experts' gate/up rows stacked, all experts' down columns stacked) and each expert's intermediate activations are
multiplied by the token's routing weight for that expert, which is exactly 0 for experts not chosen. Because
`down(w * a) = w * down(a)` (no bias), the output equals the sparse sum over the chosen experts, and the gradient
reaching an unchosen expert from that token is exactly zero, as in the sparse form. With 8 small experts this costs
~1.3x the FLOPs of a perfect sparse kernel but has static shapes (torch.compile, no host syncs, no token sorting).
`verify_against_transformers` checks the equivalence on the saved checkpoint.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DemoConfig:
    vocab_size: int = 12288
    hidden_size: int = 384
    intermediate_size: int = 1024          # dense MLP (layer 0)
    num_hidden_layers: int = 8
    num_attention_heads: int = 6
    num_key_value_heads: int = 2
    head_dim: int = 64
    max_position_embeddings: int = 4096
    rope_theta: float = 500000.0
    rms_norm_eps: float = 1e-5
    moe_num_experts: int = 8
    moe_k: int = 2
    moe_intermediate_size: int = 128
    moe_num_shared_experts: int = 2
    moe_layer_start_index: int = 1
    moe_layer_end_index: int = -1          # -1: last layer
    moe_layer_interval: int = 1
    moe_norm_min: float = 1e-12
    initializer_range: float = 0.02

    @property
    def last_moe_layer(self) -> int:
        return self.num_hidden_layers - 1 if self.moe_layer_end_index == -1 else self.moe_layer_end_index

    def is_moe(self, i: int) -> bool:
        # transformers' rule (Ernie4_5_MoeDecoderLayer)
        return (i + 1) % self.moe_layer_interval == 0 and self.moe_layer_start_index <= i <= self.last_moe_layer

    def hf_config(self, bos: int = 1, eos: int = 2, pad: int = 0) -> dict:
        """config.json in the style of the hub releases (flat rope_theta, explicit MoE fields)."""
        return {
            "architectures": ["Ernie4_5_MoeForCausalLM"],
            "model_type": "ernie4_5_moe",
            "bos_token_id": bos,
            "eos_token_id": eos,
            "pad_token_id": pad,
            "hidden_act": "silu",
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "max_position_embeddings": self.max_position_embeddings,
            "rope_theta": self.rope_theta,
            "rms_norm_eps": self.rms_norm_eps,
            "use_bias": False,
            "tie_word_embeddings": True,
            "vocab_size": self.vocab_size,
            "moe_num_experts": self.moe_num_experts,
            "moe_k": self.moe_k,
            "moe_intermediate_size": self.moe_intermediate_size,
            "moe_num_shared_experts": self.moe_num_shared_experts,
            "moe_layer_start_index": self.moe_layer_start_index,
            "moe_layer_end_index": self.last_moe_layer,
            "moe_layer_interval": self.moe_layer_interval,
            "moe_norm_min": self.moe_norm_min,
            "moe_gate": "topk",
            "moe_use_aux_free": True,
            "initializer_range": self.initializer_range,
            "use_cache": True,
            "torch_dtype": "bfloat16",
        }


def param_count(cfg: DemoConfig) -> dict:
    """Exact parameter count of the hub checkpoint (tied head, no biases), split by dtype."""
    H, nq, nkv, hd = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    attn = H * nq * hd * 2 + H * nkv * hd * 2
    dense = 3 * H * cfg.intermediate_size
    E, Im = cfg.moe_num_experts, cfg.moe_intermediate_size
    experts = E * 3 * H * Im + 3 * H * Im * cfg.moe_num_shared_experts
    bf16 = cfg.vocab_size * H + H  # embeddings + final norm
    fp32 = 0
    for i in range(cfg.num_hidden_layers):
        bf16 += attn + 2 * H
        if cfg.is_moe(i):
            bf16 += experts
            fp32 += E * H + E  # router weight + correction bias
        else:
            bf16 += dense
    return {"bf16": bf16, "fp32": fp32, "total": bf16 + fp32, "bytes": 2 * bf16 + 4 * fp32}


def active_param_count(cfg: DemoConfig) -> int:
    """Parameters touched per token (including the tied LM head once)."""
    H = cfg.hidden_size
    attn = H * cfg.num_attention_heads * cfg.head_dim * 2 + H * cfg.num_key_value_heads * cfg.head_dim * 2
    n = cfg.vocab_size * H
    for i in range(cfg.num_hidden_layers):
        n += attn
        if cfg.is_moe(i):
            n += 3 * H * cfg.moe_intermediate_size * (cfg.moe_k + cfg.moe_num_shared_experts)
            n += cfg.moe_num_experts * H
        else:
            n += 3 * H * cfg.intermediate_size
    return n


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rope_tables(cfg: DemoConfig, seq_len: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [seq_len, head_dim/2] in fp32, inv_freq[i] = theta^(-2i/d) as transformers computes it."""
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).to(torch.float) / d))
    pos = torch.arange(seq_len, dtype=torch.float)
    freqs = pos[:, None] * inv_freq[None, :]
    return freqs.cos().to(device), freqs.sin().to(device)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Interleaved pairs (x[2i], x[2i+1]) rotated by angle p*f_i, in fp32; x [B, heads, S, d]."""
    dtype = x.dtype
    xf = x.float().unflatten(-1, (-1, 2))
    x0, x1 = xf[..., 0], xf[..., 1]
    y = torch.stack((x0 * cos - x1 * sin, x1 * cos + x0 * sin), dim=-1).flatten(-2)
    return y.to(dtype)


class Attention(nn.Module):
    def __init__(self, cfg: DemoConfig):
        super().__init__()
        self.nq, self.nkv, self.hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        H = cfg.hidden_size
        self.q_proj = nn.Linear(H, self.nq * self.hd, bias=False)
        self.k_proj = nn.Linear(H, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(H, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nq * self.hd, H, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, S, _ = x.shape
        q = self.q_proj(x).view(B, S, self.nq, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, S, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, S, self.nkv, self.hd).transpose(1, 2)
        q = apply_rope(q, cos[:S], sin[:S])
        k = apply_rope(k, cos[:S], sin[:S])
        rep = self.nq // self.nkv
        if rep > 1:  # query head h reads kv head h // rep (transformers' repeat_kv)
            k = k[:, :, None].expand(B, self.nkv, rep, S, self.hd).reshape(B, self.nq, S, self.hd)
            v = v[:, :, None].expand(B, self.nkv, rep, S, self.hd).reshape(B, self.nq, S, self.hd)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.hd ** -0.5)
        return self.o_proj(o.transpose(1, 2).reshape(B, S, self.nq * self.hd))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)); gate and up stored stacked in one matrix [2I, H] (gate rows first)."""

    def __init__(self, H: int, inter: int):
        super().__init__()
        self.inter = inter
        self.gate_up = nn.Parameter(torch.empty(2 * inter, H))
        self.down = nn.Parameter(torch.empty(H, inter))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g, u = F.linear(x, self.gate_up).chunk(2, dim=-1)
        return F.linear(F.silu(g) * u, self.down)


class MoE(nn.Module):
    def __init__(self, cfg: DemoConfig):
        super().__init__()
        H, E, Im = cfg.hidden_size, cfg.moe_num_experts, cfg.moe_intermediate_size
        self.E, self.Im, self.k, self.norm_min = E, Im, cfg.moe_k, cfg.moe_norm_min
        self.gate = nn.Parameter(torch.empty(E, H, dtype=torch.float32))          # router, FP32
        self.register_buffer("e_score_correction_bias", torch.zeros(1, E, dtype=torch.float32))
        # expert e: gate rows [e*Im, (e+1)*Im), up rows [E*Im + e*Im, ...), down columns [e*Im, (e+1)*Im)
        self.gate_up = nn.Parameter(torch.empty(2 * E * Im, H))
        self.down = nn.Parameter(torch.empty(H, E * Im))
        inter_shared = Im * cfg.moe_num_shared_experts
        self.shared = SwiGLU(H, inter_shared) if inter_shared > 0 else None

    def route(self, xt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (probs [T,E] fp32, selected [T,k], weights [T,k] fp32), transformers' Ernie4_5_MoeTopKRouter math."""
        with torch.autocast(device_type=xt.device.type, enabled=False):
            logits = F.linear(xt.float(), self.gate.float())
            probs = F.softmax(logits, dim=-1, dtype=torch.float32)
            sel = torch.topk(probs + self.e_score_correction_bias, self.k, dim=-1).indices
            w = probs.gather(-1, sel)
            w = w / w.sum(-1, keepdim=True).clamp(min=self.norm_min)
        return probs, sel, w

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        shape = x.shape
        xt = x.reshape(-1, shape[-1])
        probs, sel, w = self.route(xt)
        dense_w = torch.zeros_like(probs).scatter(-1, sel, w)                     # [T, E], 0 where not chosen
        g, u = F.linear(xt, self.gate_up).chunk(2, dim=-1)                       # [T, E*Im] each
        a = F.silu(g) * u
        a = (a.unflatten(-1, (self.E, self.Im)) * dense_w.to(a.dtype).unsqueeze(-1)).flatten(-2)
        out = F.linear(a, self.down)
        if self.shared is not None:
            out = out + self.shared(xt)
        # load statistics: tokens per expert, and the Switch-style balance loss E * sum_e f_e * P_e
        counts = F.one_hot(sel, self.E).sum(dim=(0, 1)).float()
        frac = counts / sel.numel()
        aux = self.E * (frac * probs.mean(0)).sum()
        return out.reshape(shape), counts, aux


class Layer(nn.Module):
    def __init__(self, cfg: DemoConfig, i: int):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.is_moe = cfg.is_moe(i)
        self.mlp = MoE(cfg) if self.is_moe else SwiGLU(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        h = self.post_attention_layernorm(x)
        if self.is_moe:
            m, counts, aux = self.mlp(h)
            return x + m, counts, aux
        return x + self.mlp(h), None, None


class DemoErnieMoe(nn.Module):
    def __init__(self, cfg: DemoConfig, max_seq: int):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Layer(cfg, i) for i in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        cos, sin = rope_tables(cfg, max_seq)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.compiled_layers: list | None = None
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        std = self.cfg.initializer_range
        out_std = std / math.sqrt(2 * self.cfg.num_hidden_layers)  # residual-branch outputs (GPT-2 style)
        for name, p in self.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                p.fill_(1.0)
            elif name.endswith("o_proj.weight") or name.endswith(".down"):
                p.normal_(0.0, out_std)
            else:
                p.normal_(0.0, std)
        for layer in self.layers:
            if layer.is_moe:
                layer.mlp.e_score_correction_bias.zero_()

    def compile_layers(self) -> None:
        """Regional compilation: one compiled graph per distinct layer kind, reused by the layers of that kind."""
        self.compiled_layers = [torch.compile(layer, dynamic=False) for layer in self.layers]

    def hidden(self, ids: torch.Tensor, compiled: bool = False):
        x = self.embed_tokens(ids)
        counts, auxes = [], []
        layers = self.compiled_layers if (compiled and self.compiled_layers is not None) else self.layers
        for layer in layers:
            x, c, a = layer(x, self.rope_cos, self.rope_sin)
            if c is not None:
                counts.append(c)
                auxes.append(a)
        return self.norm(x), counts, auxes

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.embed_tokens.weight)

    def moe_layers(self) -> list[MoE]:
        return [layer.mlp for layer in self.layers if layer.is_moe]


# ----------------------------------------------------------------------------------------------------------------
# Hub checkpoint layout

def hub_state_dict(model: DemoErnieMoe) -> dict[str, torch.Tensor]:
    """Tensors named and shaped as in the ERNIE-4.5 -PT releases: per-expert matrices, router + correction bias in
    FP32, everything else bf16, no lm_head (tied)."""
    cfg = model.cfg
    bf = lambda t: t.detach().to(torch.bfloat16).contiguous().cpu()  # noqa: E731
    f32 = lambda t: t.detach().to(torch.float32).contiguous().cpu()  # noqa: E731
    sd = {"model.embed_tokens.weight": bf(model.embed_tokens.weight), "model.norm.weight": bf(model.norm.weight)}
    for i, layer in enumerate(model.layers):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = bf(layer.input_layernorm.weight)
        sd[p + "post_attention_layernorm.weight"] = bf(layer.post_attention_layernorm.weight)
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            sd[p + f"self_attn.{n}.weight"] = bf(getattr(layer.self_attn, n).weight)
        if layer.is_moe:
            moe: MoE = layer.mlp
            E, Im = moe.E, moe.Im
            sd[p + "mlp.gate.weight"] = f32(moe.gate)
            sd[p + "mlp.moe_statics.e_score_correction_bias"] = f32(moe.e_score_correction_bias)
            for e in range(E):
                sd[p + f"mlp.experts.{e}.gate_proj.weight"] = bf(moe.gate_up[e * Im:(e + 1) * Im])
                sd[p + f"mlp.experts.{e}.up_proj.weight"] = bf(moe.gate_up[E * Im + e * Im:E * Im + (e + 1) * Im])
                sd[p + f"mlp.experts.{e}.down_proj.weight"] = bf(moe.down[:, e * Im:(e + 1) * Im])
            if moe.shared is not None:
                add_swiglu(sd, p + "mlp.shared_experts.", moe.shared, bf)
        else:
            add_swiglu(sd, p + "mlp.", layer.mlp, bf)
    return sd


def add_swiglu(sd: dict, prefix: str, mlp: SwiGLU, conv) -> None:
    sd[prefix + "gate_proj.weight"] = conv(mlp.gate_up[:mlp.inter])
    sd[prefix + "up_proj.weight"] = conv(mlp.gate_up[mlp.inter:])
    sd[prefix + "down_proj.weight"] = conv(mlp.down)


def load_hub_state_dict(model: DemoErnieMoe, sd: dict[str, torch.Tensor]) -> None:
    """Inverse of hub_state_dict (used by the tests of the conversion)."""
    with torch.no_grad():
        model.embed_tokens.weight.copy_(sd["model.embed_tokens.weight"])
        model.norm.weight.copy_(sd["model.norm.weight"])
        for i, layer in enumerate(model.layers):
            p = f"model.layers.{i}."
            layer.input_layernorm.weight.copy_(sd[p + "input_layernorm.weight"])
            layer.post_attention_layernorm.weight.copy_(sd[p + "post_attention_layernorm.weight"])
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                getattr(layer.self_attn, n).weight.copy_(sd[p + f"self_attn.{n}.weight"])
            mlps = []
            if layer.is_moe:
                moe = layer.mlp
                E, Im = moe.E, moe.Im
                moe.gate.copy_(sd[p + "mlp.gate.weight"])
                moe.e_score_correction_bias.copy_(sd[p + "mlp.moe_statics.e_score_correction_bias"])
                for e in range(E):
                    moe.gate_up[e * Im:(e + 1) * Im].copy_(sd[p + f"mlp.experts.{e}.gate_proj.weight"])
                    moe.gate_up[E * Im + e * Im:E * Im + (e + 1) * Im].copy_(sd[p + f"mlp.experts.{e}.up_proj.weight"])
                    moe.down[:, e * Im:(e + 1) * Im].copy_(sd[p + f"mlp.experts.{e}.down_proj.weight"])
                if moe.shared is not None:
                    mlps.append((p + "mlp.shared_experts.", moe.shared))
            else:
                mlps.append((p + "mlp.", layer.mlp))
            for prefix, mlp in mlps:
                mlp.gate_up[:mlp.inter].copy_(sd[prefix + "gate_proj.weight"])
                mlp.gate_up[mlp.inter:].copy_(sd[prefix + "up_proj.weight"])
                mlp.down.copy_(sd[prefix + "down_proj.weight"])


def save_hub(model: DemoErnieMoe, out: Path, eos_ids: list[int], metadata: dict | None = None) -> dict:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    sd = hub_state_dict(model)
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt", **(metadata or {})})
    (out / "model.safetensors").chmod(0o644)
    (out / "config.json").write_text(json.dumps(model.cfg.hf_config(), indent=2) + "\n")
    gen = {
        "bos_token_id": 1,
        "eos_token_id": eos_ids,
        "pad_token_id": 0,
        "do_sample": True,
        "temperature": 0.8,
        "top_p": 0.8,
        "repetition_penalty": 1.0,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.0,
    }
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    n_bf16 = sum(t.numel() for t in sd.values() if t.dtype == torch.bfloat16)
    n_f32 = sum(t.numel() for t in sd.values() if t.dtype == torch.float32)
    return {"tensors": len(sd), "params_bf16": n_bf16, "params_fp32": n_f32,
            "file_bytes": (out / "model.safetensors").stat().st_size}


# ----------------------------------------------------------------------------------------------------------------
# Equivalence check against transformers

@torch.no_grad()
def verify_against_transformers(model: DemoErnieMoe, folder: Path, ids: torch.Tensor) -> dict:
    """Load `folder` with transformers' Ernie4_5_MoeForCausalLM (fp32, eager attention) and compare its logits with
    this module's fp32 logits computed from the SAME bf16-rounded weights (read back from model.safetensors).
    Also reports the transformers load report (missing/unexpected keys must be empty)."""
    from safetensors.torch import load_file
    from transformers import Ernie4_5_MoeForCausalLM

    hf, info = Ernie4_5_MoeForCausalLM.from_pretrained(str(folder), dtype=torch.float32,
                                                       attn_implementation="eager", output_loading_info=True)
    hf.eval()
    ref = DemoErnieMoe(model.cfg, max_seq=max(ids.shape[1], 8)).float().eval()
    load_hub_state_dict(ref, {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()})
    ids = ids.cpu()
    hf_logits = hf(input_ids=ids).logits.float()
    h, _, _ = ref.hidden(ids)
    my_logits = ref.logits(h).float()
    diff = (hf_logits - my_logits).abs()
    # negative control: the same module with the correction bias zeroed must disagree (proves the comparison sees
    # the bias, i.e. that routing really is compared)
    for moe in ref.moe_layers():
        moe.e_score_correction_bias.zero_()
    h0, _, _ = ref.hidden(ids)
    control = (hf_logits - ref.logits(h0).float()).abs().max().item()
    return {
        "no_bias_control_max_abs_diff": control,
        "max_abs_diff": diff.max().item(),
        "mean_abs_diff": diff.mean().item(),
        "logit_scale": hf_logits.abs().max().item(),
        "argmax_agree": (hf_logits.argmax(-1) == my_logits.argmax(-1)).float().mean().item(),
        "missing_keys": sorted(info.get("missing_keys", [])),
        "unexpected_keys": sorted(info.get("unexpected_keys", [])),
        "mismatched_keys": [str(x) for x in info.get("mismatched_keys", [])],
    }


def config_summary(cfg: DemoConfig) -> dict:
    return {**asdict(cfg), "params": param_count(cfg), "active_params_per_token": active_param_count(cfg)}
