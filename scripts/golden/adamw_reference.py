#!/usr/bin/python3
"""Golden numbers for AdamWTest: torch.optim.AdamW (single-tensor path) on exactly representable inputs.

Run with Debian's python (torch 1.13): /usr/bin/python3 scripts/golden/adamw_reference.py
The Java test rebuilds the same inputs from the same formulas (all values are exact in float32)
and compares param, exp_avg and exp_avg_sq after STEPS steps with the numbers printed here.
Hyper-parameters are passed as the float32 values the Java kernel receives (float lr=1e-3f is
not the Python double 1e-3).
"""
import numpy as np
import torch

N, STEPS = 37, 3
f32 = lambda x: float(np.float32(x))
LR, BETAS, EPS, WD = f32(1e-3), (f32(0.9), f32(0.95)), f32(1e-8), f32(0.1)


def param0(i):
    return ((i * 37) % 101 - 50) / 64.0


def grad(i, t):  # t = 1-based step
    return ((i * 53 + t * 17) % 97 - 48) / 128.0


p = torch.tensor([param0(i) for i in range(N)], dtype=torch.float32, requires_grad=True)
opt = torch.optim.AdamW([p], lr=LR, betas=BETAS, eps=EPS, weight_decay=WD, foreach=False)
for t in range(1, STEPS + 1):
    p.grad = torch.tensor([grad(i, t) for i in range(N)], dtype=torch.float32)
    opt.step()
st = opt.state[p]
print("torch", torch.__version__)
for name, x in (("PARAM", p.detach()), ("EXP_AVG", st["exp_avg"]), ("EXP_AVG_SQ", st["exp_avg_sq"])):
    print("    private static final float[] %s = {" % name)
    vals = ["%sf" % np.format_float_scientific(np.float32(v), unique=True) for v in x.tolist()]
    for k in range(0, len(vals), 6):
        print("            " + ", ".join(vals[k:k + 6]) + ",")
    print("    };")
