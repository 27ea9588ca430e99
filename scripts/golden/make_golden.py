"""Golden data for fourfold's single-device training: the `test` preset in PyTorch.

Run from the repository root with Debian's python (torch 1.13; pyenv's python has no torch):

    /usr/bin/python3 scripts/golden/make_golden.py

It writes src-test/src/test/resources/golden/test/ (see the README.md it writes there):
config.json, model.safetensors, batch.safetensors, logits.safetensors, grads.safetensors,
final.safetensors, rope.safetensors and expected.json. The run is deterministic (one thread,
fixed seed); running it again rewrites byte-identical files with the same torch build.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref as ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "engine/src/main/resources/fourfold/data/tinyshakespeare.txt")
OUT = os.path.join(ROOT, "src-test/src/test/resources/golden/test")

SEED = 1234
B, T = 2, 32
STEPS = 10
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.99), 1e-8, 0.1


def train_split(data):
    """First floor(n * 9 / 10) bytes, as fourfold's TextDataset."""
    return data[: len(data) * 9 // 10]


def sequential_batch(train, step):
    """Step s uses windows s*B .. s*B+B-1 (mod W); window w is bytes [w*T, w*T+T+1)."""
    W = (len(train) - 1) // T
    starts = [((step * B + b) % W) * T for b in range(B)]
    x = torch.tensor([list(train[s: s + T]) for s in starts], dtype=torch.int64)
    y = torch.tensor([list(train[s + 1: s + T + 1]) for s in starts], dtype=torch.int64)
    return x, y, starts


def run(model, batches, dtype):
    """Loss, logits and grads at step 0, then STEPS AdamW steps; returns everything recorded."""
    model = model.to(dtype)
    opt = ref.adamw(model, LR, BETAS, EPS, WD)
    losses, grad_norms, first = [], [], None
    for step in range(STEPS):
        x, y, _ = batches[step]
        opt.zero_grad(set_to_none=True)
        loss, logits = model.loss(x, y)
        loss.backward()
        if step == 0:
            first = dict(loss=loss.item(), logits=logits.detach().reshape(B * T, -1).clone(),
                         grads={n: p.grad.detach().clone() for n, p in model.named_parameters()})
        losses.append(loss.item())
        grad_norms.append(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters())).item())
        opt.step()
    with torch.no_grad():
        x, y, _ = batches[STEPS]
        after, _ = model.loss(x, y)
    final = {n: p.detach().clone() for n, p in model.state_dict().items()}
    return dict(first=first, losses=losses, grad_norms=grad_norms, final=final, loss_after=after.item())


def max_diff(a, b):
    """Largest |a-b|, largest |a-b| / max|b| and how many |a-b| exceed 1e-6, over a tensor or a dict of tensors."""
    pairs = [(a[k], b[k]) for k in a] if isinstance(a, dict) else [(a, b)]
    abs_d = max((x.double() - y.double()).abs().max().item() for x, y in pairs)
    rel_d = max(((x.double() - y.double()).abs().max() / y.double().abs().max().clamp_min(1e-30)).item() for x, y in pairs)
    over = sum(int(((x.double() - y.double()).abs() > 1e-6).sum()) for x, y in pairs)
    total = sum(x.numel() for x, _ in pairs)
    return {"max_abs": abs_d, "max_rel_to_max": rel_d, "elements_over_1e-6": over, "elements": total}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    c = ref.preset("test")
    with open(CORPUS, "rb") as f:
        train = train_split(f.read())
    batches = [sequential_batch(train, s) for s in range(STEPS + 1)]

    model = ref.LlamaForCausalLM(c)
    ref.init_weights(model, SEED, "golden")
    init = {n: p.detach().clone() for n, p in model.state_dict().items()}
    r32 = run(model, batches, torch.float32)

    # The same computation in float64: how far fp32 itself is from exact, to size the tolerances.
    model64 = ref.LlamaForCausalLM(c)
    model64.load_state_dict(init)
    r64 = run(model64, batches, torch.float64)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(ref.hf_config_json(c), f, indent=2)
        f.write("\n")
    ref.save_safetensors(os.path.join(args.out, "model.safetensors"), init)
    ref.save_safetensors(os.path.join(args.out, "batch.safetensors"), {
        "inputs": batches[0][0].to(torch.int32),                                   # (B, T), step 0
        "targets": batches[0][1].to(torch.int32),
        "steps.inputs": torch.stack([batches[s][0] for s in range(STEPS)]).to(torch.int32),   # (STEPS, B, T)
        "steps.targets": torch.stack([batches[s][1] for s in range(STEPS)]).to(torch.int32),
        "steps.window_starts": torch.tensor([batches[s][2] for s in range(STEPS)], dtype=torch.int32),  # (STEPS, B)
    })
    ref.save_safetensors(os.path.join(args.out, "logits.safetensors"), {"logits": r32["first"]["logits"]})
    ref.save_safetensors(os.path.join(args.out, "grads.safetensors"), r32["first"]["grads"])
    ref.save_safetensors(os.path.join(args.out, "final.safetensors"), r32["final"])
    hs = c["hidden_size"] // c["num_attention_heads"]
    cos, sin = ref.rope_cos_sin(model.inv_freq, T, torch.float32)
    ref.save_safetensors(os.path.join(args.out, "rope.safetensors"),
                         {"inv_freq": model.inv_freq.clone(), "cos": cos, "sin": sin})

    expected = {
        "about": "fourfold golden data, test preset; see README.md",
        "command": "/usr/bin/python3 scripts/golden/make_golden.py",
        "torch_version": torch.__version__,
        "seed": SEED, "init": "golden (llama_ref.init_weights): embedding N(0,1), Linear N(0,1/sqrt(in)), norms 1+0.1*N(0,1)",
        "B": B, "T": T, "sampling": "sequential, step s uses windows s*B..s*B+B-1 of the train split (window w = bytes [w*T, w*T+T+1))",
        "loss": r32["first"]["loss"],
        "optimizer": {"name": "AdamW (torch.optim.AdamW)", "lr": LR, "lr_schedule": "constant", "betas": list(BETAS),
                      "eps": EPS, "weight_decay": WD, "weight_decay_on": "2-D weights only (not norm weights)",
                      "clip": None, "steps": STEPS, "batches": "sequential, a new batch each step (steps.* in batch.safetensors)"},
        "losses": r32["losses"],
        "grad_norms": r32["grad_norms"],
        "loss_after_steps": r32["loss_after"],
        "loss_after_steps_batch": "the sequential batch of step %d (windows %d..%d)" % (STEPS, STEPS * B, STEPS * B + B - 1),
        "fp32_vs_fp64": {
            "loss": abs(r32["first"]["loss"] - r64["first"]["loss"]) / abs(r64["first"]["loss"]),
            "losses_max_rel": max(abs(a - b) / abs(b) for a, b in zip(r32["losses"], r64["losses"])),
            "logits": max_diff(r32["first"]["logits"], r64["first"]["logits"]),
            "grads": max_diff(r32["first"]["grads"], r64["first"]["grads"]),
            "final_weights": max_diff(r32["final"], r64["final"]),
        },
    }
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")

    # Self-check: what we wrote reads back bit for bit.
    back = ref.load_safetensors(os.path.join(args.out, "grads.safetensors"))
    assert all(torch.equal(back[n], r32["first"]["grads"][n]) for n in back)
    print("loss %.7f, losses %s" % (expected["loss"], ["%.5f" % l for l in r32["losses"]]))
    print("fp32 vs fp64:", json.dumps(expected["fp32_vs_fp64"]))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
