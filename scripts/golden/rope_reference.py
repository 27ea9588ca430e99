#!/usr/bin/python3
"""Golden numbers for RopeTest: Hugging Face Llama's rotary embedding, written out in torch as
transformers' LlamaRotaryEmbedding + apply_rotary_pos_emb compute it (float32 throughout).

Run with Debian's python (torch 1.13): /usr/bin/python3 scripts/golden/rope_reference.py
The Java test rebuilds x from the same formula (exact in float32) and compares the rotated values.
"""
import numpy as np
import torch

HS, NH, THETA = 8, 2, 10000.0
POSITIONS = [0, 1, 7, 1000, 4095]
T = len(POSITIONS)


def x0(i):
    return ((i * 29) % 61 - 30) / 32.0


# LlamaRotaryEmbedding.__init__
inv_freq = 1.0 / (THETA ** (torch.arange(0, HS, 2, dtype=torch.int64).float() / HS))
# LlamaRotaryEmbedding.forward: freqs = inv_freq @ position_ids, in float32
position_ids = torch.tensor([POSITIONS])                                # (1, T)
inv_freq_expanded = inv_freq[None, :, None].float().expand(1, -1, 1)    # (1, hs/2, 1)
freqs = (inv_freq_expanded.float() @ position_ids[:, None, :].float()).transpose(1, 2)  # (1, T, hs/2)
emb = torch.cat((freqs, freqs), dim=-1)
cos, sin = emb.cos(), emb.sin()                                         # (1, T, hs)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


x = torch.tensor([x0(i) for i in range(T * NH * HS)], dtype=torch.float32).view(1, T, NH, HS)
q = x.transpose(1, 2)                                                   # HF layout (B, nh, T, hs)
out = (q * cos.unsqueeze(1)) + (rotate_half(q) * sin.unsqueeze(1))
out = out.transpose(1, 2).reshape(-1)                                   # back to (B, T, nh, hs)
print("torch", torch.__version__)
print("    private static final float[] EXPECTED = {")
vals = ["%sf" % np.format_float_scientific(np.float32(v), unique=True) for v in out.tolist()]
for k in range(0, len(vals), 8):
    print("            " + ", ".join(vals[k:k + 8]) + ",")
print("    };")
