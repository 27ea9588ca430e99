#!/usr/bin/python3
"""Loads a fourfold checkpoint with PyTorch and compares its loss on a text with `fourfold eval`.

    scripts/checkpoint_torch.py CHECKPOINT [--data FILE] [--seq T]

CHECKPOINT is a checkpoint directory, a run directory (`fourfold train --out`) or its `latest`
file. The script reads the files itself, as any other tool would: the `latest` pointer,
config.json and model.safetensors (without the safetensors package), checks every tensor's
CRC32C from the safetensors metadata with its own CRC32C, builds the model with transformers'
LlamaForCausalLM when transformers is installed and with the repository's reference Llama
(scripts/golden/llama_ref.py, the same computation) otherwise, scores every non-overlapping
window of the text as `fourfold eval` does (window i = bytes [i*T, i*T+T+1)), and prints both
losses. Exit 1 when they differ by more than 1e-4 relative, or a checksum fails.

Optional, not run by CI. Needs Debian's /usr/bin/python3 with python3-torch and python3-numpy.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "golden"))
import llama_ref  # noqa: E402


def checkpoint_dir(path):
    """A checkpoint directory: as given, or the one a run directory's `latest` file names."""
    if os.path.isfile(path):
        return os.path.join(os.path.dirname(path), open(path).read().strip())
    if os.path.isfile(os.path.join(path, "config.json")):
        return path
    return os.path.join(path, open(os.path.join(path, "latest")).read().strip())


def crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


def crc32c(data, table=crc32c_table()):
    c = 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def verify_checksums(path):
    """Every tensor against its crc32c.NAME metadata; returns how many were checked."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.get("__metadata__", {})
    checked = 0
    for name, e in header.items():
        if name == "__metadata__" or "crc32c." + name not in meta:
            continue
        a, b = e["data_offsets"]
        got = "%08x" % crc32c(data[8 + n + a: 8 + n + b])
        if got != meta["crc32c." + name]:
            sys.exit(f"{path}: tensor {name} fails its checksum: crc32c {got}, saved {meta['crc32c.' + name]}")
        checked += 1
    return checked


def load_model(ck):
    try:
        from transformers import LlamaForCausalLM
        model = LlamaForCausalLM.from_pretrained(ck, torch_dtype=torch.float32)
        return model, "transformers.LlamaForCausalLM.from_pretrained"
    except ImportError:
        config = json.load(open(os.path.join(ck, "config.json")))
        model = llama_ref.LlamaForCausalLM(config)
        model.load_state_dict(llama_ref.load_safetensors(os.path.join(ck, "model.safetensors")), strict=True)
        return model, "scripts/golden/llama_ref.py (transformers is not installed)"


def mean_loss(model, data, T, rows=32):
    n = (len(data) - 1) // T
    total, tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, n, rows):
            idx = range(start, min(n, start + rows))
            x = torch.tensor([list(data[i * T: i * T + T]) for i in idx], dtype=torch.int64)
            y = torch.tensor([list(data[i * T + 1: i * T + T + 1]) for i in idx], dtype=torch.int64)
            out = model(x)
            logits = out.logits if hasattr(out, "logits") else out
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).double(), y.reshape(-1), reduction="sum").item()
            tokens += y.numel()
    return total / tokens, tokens


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="text file (read as bytes)")
    p.add_argument("--seq", type=int, help="window length T (default: max_position_embeddings)")
    p.add_argument("--fourfold", default=os.path.join(ROOT, "fourfold"))
    a = p.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    ck = checkpoint_dir(a.checkpoint)
    config = json.load(open(os.path.join(ck, "config.json")))
    T = a.seq or config["max_position_embeddings"]
    checked = verify_checksums(os.path.join(ck, "model.safetensors"))
    print(f"checkpoint {ck}: {checked} tensor checksums hold (crc32c computed by this script)")
    model, how = load_model(ck)
    model.eval()
    data = open(a.data, "rb").read()
    torch_loss, tokens = mean_loss(model, data, T)
    print(f"PyTorch {torch.__version__} via {how}: loss {torch_loss:.6f} over {tokens} tokens")
    out = subprocess.run([a.fourfold, "eval", "--checkpoint", a.checkpoint, "--data", a.data, "--seq", str(T), "--json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("fourfold eval failed: " + out.stderr.strip())
    ours = json.loads(out.stdout)
    print(f"fourfold eval: loss {ours['loss']:.6f} over {ours['tokens']} tokens")
    rel = abs(ours["loss"] - torch_loss) / abs(torch_loss)
    print(f"relative difference {rel:.2e} ({'ok' if rel <= 1e-4 and ours['tokens'] == tokens else 'MISMATCH'}, tolerance 1e-4)")
    sys.exit(0 if rel <= 1e-4 and ours["tokens"] == tokens else 1)


if __name__ == "__main__":
    main()
