"""A reference Llama in plain PyTorch that computes what Hugging Face LlamaForCausalLM computes.

transformers is not installed here, so this file re-implements, operation for operation, the
eager (non-SDPA) path of `transformers/models/llama/modeling_llama.py` as of transformers
v4.46 (LlamaRMSNorm, LlamaRotaryEmbedding with rope_type "default", apply_rotary_pos_emb /
rotate_half, repeat_kv, LlamaAttention eager path, LlamaMLP, LlamaDecoderLayer, LlamaModel,
LlamaForCausalLM). Parameter names are Hugging Face's, so `state_dict()` is a checkpoint that
`LlamaForCausalLM.from_pretrained` loads. Differences from HF, none of which change the numbers:
no KV cache, no dropout (HF's attention_dropout is 0), the causal mask is applied with
masked_fill(-inf) where HF adds finfo.min (both give exactly 0 after softmax in fp32), and the
loss takes explicit targets instead of shifting `labels` inside the model.

Used by make_golden.py (golden data for fourfold's tests) and ../bench/torch_train.py.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

# The presets of fourfold.engine.model.LlamaConfig.
PRESETS = {
    "test": dict(vocab_size=256, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=2, intermediate_size=128, max_position_embeddings=32),
    "tiny": dict(vocab_size=256, hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=4, intermediate_size=384, max_position_embeddings=64),
    "small": dict(vocab_size=256, hidden_size=384, num_hidden_layers=6, num_attention_heads=6,
                  num_key_value_heads=6, intermediate_size=1024, max_position_embeddings=256),
}


def preset(name, rope_theta=10000.0, rms_norm_eps=1e-5):
    c = dict(PRESETS[name])
    c.update(rope_theta=rope_theta, rms_norm_eps=rms_norm_eps)
    return c


def hf_config_json(c):
    """config.json with the keys fourfold's LlamaConfig.toHfJson() writes."""
    hs = c["hidden_size"] // c["num_attention_heads"]
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": c["vocab_size"], "hidden_size": c["hidden_size"],
        "intermediate_size": c["intermediate_size"], "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"], "num_key_value_heads": c["num_key_value_heads"],
        "head_dim": hs, "hidden_act": "silu", "max_position_embeddings": c["max_position_embeddings"],
        "rms_norm_eps": c["rms_norm_eps"], "rope_theta": c["rope_theta"], "rope_scaling": None,
        "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False, "torch_dtype": "float32",
    }


class RMSNorm(nn.Module):
    """LlamaRMSNorm: x / sqrt(mean(x^2) + eps) computed in fp32, then times the weight."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.variance_epsilon = eps

    def forward(self, x):
        input_dtype = x.dtype
        h = x.to(torch.float32) if input_dtype != torch.float64 else x  # fp64 stays fp64 (our reference runs)
        variance = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * h.to(input_dtype)


def rope_inv_freq(head_dim, theta):
    """_compute_default_rope_parameters: 1 / theta^(2i/d) for i < d/2, computed in fp32."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))


def rope_cos_sin(inv_freq, T, dtype):
    """LlamaRotaryEmbedding.forward for positions 0..T-1: (T, head_dim) cos and sin, duplicated halves.

    HF forms freqs = inv_freq (fp32) x position (fp32) as an outer product, concatenates it with
    itself, takes cos/sin in fp32 and casts to the activation dtype. For the fp64 reference runs
    everything is done in fp64 instead.
    """
    work = torch.float64 if dtype == torch.float64 else torch.float32
    pos = torch.arange(T, dtype=work)
    freqs = torch.outer(pos, inv_freq.to(work))            # (T, hs/2)
    emb = torch.cat((freqs, freqs), dim=-1)                 # (T, hs)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    """(B, n_kv, T, hs) -> (B, n_kv * n_rep, T, hs): query head h reads kv head h // n_rep."""
    b, n_kv, t, hs = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, n_kv, n_rep, t, hs).reshape(b, n_kv * n_rep, t, hs)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["hidden_size"]
        self.n_heads = c["num_attention_heads"]
        self.n_kv = c["num_key_value_heads"]
        self.hs = C // self.n_heads
        self.q_proj = nn.Linear(C, self.n_heads * self.hs, bias=False)
        self.k_proj = nn.Linear(C, self.n_kv * self.hs, bias=False)
        self.v_proj = nn.Linear(C, self.n_kv * self.hs, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.hs, C, bias=False)

    def forward(self, x, cos, sin):  # x: (B, T, C); cos, sin: (T, hs)
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.hs).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, self.n_kv, self.hs).transpose(1, 2)     # (B, nkv, T, hs)
        v = self.v_proj(x).view(B, T, self.n_kv, self.hs).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin                                    # apply_rotary_pos_emb
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, self.n_heads // self.n_kv)
        v = repeat_kv(v, self.n_heads // self.n_kv)
        att = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hs)         # (B, nh, T, T)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)   # True above the diagonal
        att = att.masked_fill(mask, float("-inf"))
        sm_dtype = torch.float64 if q.dtype == torch.float64 else torch.float32
        att = F.softmax(att, dim=-1, dtype=sm_dtype).to(q.dtype)
        y = torch.matmul(att, v)                                              # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().reshape(B, T, self.n_heads * self.hs)
        return self.o_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, Fd = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(C, Fd, bias=False)
        self.up_proj = nn.Linear(C, Fd, bias=False)
        self.down_proj = nn.Linear(Fd, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Model(nn.Module):
    """LlamaModel: embed_tokens, layers, norm."""

    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = Model(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        hs = c["hidden_size"] // c["num_attention_heads"]
        self.register_buffer("inv_freq", rope_inv_freq(hs, c["rope_theta"]), persistent=False)

    def forward(self, ids):  # ids: (B, T) int64 -> logits (B, T, V)
        T = ids.shape[1]
        x = self.model.embed_tokens(ids)
        cos, sin = rope_cos_sin(self.inv_freq, T, x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))

    def loss(self, ids, targets):
        """Mean token cross-entropy (sum over the B*T tokens / B*T), as LlamaForCausalLM's loss."""
        logits = self(ids)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)), logits


def init_weights(model, seed, scheme="golden"):
    """Deterministic init drawn in state_dict order from one torch.Generator.

    "golden": embedding N(0, 1); each Linear N(0, 1/sqrt(in_features)); norm weights 1 + 0.1 N(0, 1).
      Large enough that attention is far from uniform and logits are O(1), so a mistake in RoPE,
      masking, GQA or a norm weight moves the golden numbers well beyond fp32 noise (with std
      0.02 everywhere the attention is nearly uniform and such bugs hide below the tolerances).
    "train": the usual training init (nanoGPT / HF initializer_range): N(0, 0.02) for embedding
      and Linear weights, ones for norms.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.state_dict(keep_vars=True).items():
            if scheme == "train":
                if p.dim() == 2:
                    p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * 0.02)
                else:
                    p.fill_(1.0)
            elif name.endswith("embed_tokens.weight"):
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32))
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) / math.sqrt(p.shape[1]))
            else:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float32))


def adamw(model, lr, betas, eps, weight_decay):
    """torch.optim.AdamW with weight decay on 2-D weights only (not on norm weights)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=betas, eps=eps)


# ---- safetensors without the safetensors package ------------------------------------------

_DTYPES = {torch.float32: "F32", torch.int32: "I32", torch.int64: "I64", torch.float64: "F64"}
_TORCH = {v: k for k, v in _DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    """8-byte LE header length, JSON header padded with spaces to 8 bytes, LE data in order."""
    header, blobs, offset = {}, [], 0
    header["__metadata__"] = {"format": "pt", **(metadata or {})}
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        dt = {"F32": "<f4", "I32": "<i4", "I64": "<i8", "F64": "<f8"}[e["dtype"]]
        arr = np.frombuffer(data[8 + n + a: 8 + n + b], dtype=dt).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out
