"""PyTorch baseline for fourfold's single-device training benchmark (tiny preset, B=12, T=64).

Run from the repository root with Debian's python (PyTorch 1.13 on OpenBLAS):

    # throughput: median training tokens/s after warm-up, with 1 and with 2 threads
    /usr/bin/python3 scripts/bench/torch_train.py
    # one side of an interleaved comparison (scripts/bench/interleave.py drives it)
    /usr/bin/python3 scripts/bench/torch_train.py --serve 10 --threads 1
    # the learning run: 2000 steps, lr 1e-3, warmup 100, cosine to 1e-4, beta2 0.99, val loss at the end
    /usr/bin/python3 scripts/bench/torch_train.py --steps 2000 --threads 2

The model is scripts/golden/llama_ref.py (the same Llama as the golden data), initialised as for
training (N(0, 0.02) weights, unit norms). Batches are drawn like fourfold's --sampling random and
nanoGPT's get_batch: each row starts at a uniform byte of the train split (first floor(0.9 n)
bytes). A training step is forward + backward + clip + AdamW, timed with a wall clock.
Validation loss = mean cross-entropy over every non-overlapping window of the validation
split (window i = bytes [i*T, i*T+T+1)), as fourfold's eval.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import llama_ref as ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "engine/src/main/resources/fourfold/data/tinyshakespeare.txt")


def load_splits(path):
    with open(path, "rb") as f:
        data = torch.tensor(list(f.read()), dtype=torch.int64)
    n_train = len(data) * 9 // 10
    return data[:n_train], data[n_train:]


def random_batch(train, B, T, g):
    starts = torch.randint(len(train) - T, (B,), generator=g)
    x = torch.stack([train[s: s + T] for s in starts])
    y = torch.stack([train[s + 1: s + T + 1] for s in starts])
    return x, y


def lr_at(step, args):
    """Linear warmup to --lr over --warmup steps, then cosine from --lr to --min-lr at the last step."""
    if args.lr_schedule == "constant":
        return args.lr
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * (args.lr - args.min_lr)


def make(args, cfg):
    model = ref.LlamaForCausalLM(cfg)
    ref.init_weights(model, args.seed, "train")
    opt = ref.adamw(model, args.lr, (args.beta1, args.beta2), 1e-8, args.weight_decay)
    return model, opt


def train_step(model, opt, x, y, lr, clip):
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss, _ = model.loss(x, y)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip) if clip > 0 else torch.tensor(0.0)
    opt.step()
    return loss.item(), norm.item()


@torch.no_grad()
def evaluate(model, data, T, rows=64):
    n_windows = (len(data) - 1) // T
    total, count = 0.0, 0
    for w0 in range(0, n_windows, rows):
        ws = range(w0, min(n_windows, w0 + rows))
        x = torch.stack([data[w * T: w * T + T] for w in ws])
        y = torch.stack([data[w * T + 1: w * T + T + 1] for w in ws])
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    return total / count, count


def throughput(args, cfg, train):
    results = {}
    for threads in args.thread_counts:
        torch.set_num_threads(threads)
        model, opt = make(args, cfg)
        g = torch.Generator().manual_seed(args.seed)
        times = []
        for step in range(args.warmup_steps + args.measure_steps):
            x, y = random_batch(train, args.batch, args.seq, g)
            t0 = time.perf_counter()
            train_step(model, opt, x, y, args.lr, args.clip)
            if step >= args.warmup_steps:
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        results[threads] = {"median_step_ms": med * 1e3, "tokens_per_s": args.batch * args.seq / med,
                            "p10_tokens_per_s": args.batch * args.seq / sorted(times)[int(0.9 * len(times))],
                            "p90_tokens_per_s": args.batch * args.seq / sorted(times)[int(0.1 * len(times))]}
        print("threads=%d  median step %.1f ms  %.0f tokens/s  (p10..p90 %.0f..%.0f)" % (
            threads, med * 1e3, results[threads]["tokens_per_s"],
            results[threads]["p10_tokens_per_s"], results[threads]["p90_tokens_per_s"]), flush=True)
    best = max(results, key=lambda t: results[t]["tokens_per_s"])
    print(json.dumps({"torch": torch.__version__, "preset": args.preset, "B": args.batch, "T": args.seq,
                      "warmup_steps": args.warmup_steps, "measured_steps": args.measure_steps,
                      "by_threads": results, "best_threads": best,
                      "best_tokens_per_s": results[best]["tokens_per_s"]}))


def serve(args, cfg, train):
    """The PyTorch side of scripts/bench/interleave.py: bursts of --serve steps on --threads threads.

    After each burst prints "burst SECONDS TOKENS" (summed step wall time) and waits for "go" or
    "stop" on stdin, so that the driver can alternate it with another program."""
    torch.set_num_threads(args.threads)
    model, opt = make(args, cfg)
    g = torch.Generator().manual_seed(args.seed)
    while True:
        seconds = 0.0
        for _ in range(args.serve):
            x, y = random_batch(train, args.batch, args.seq, g)
            t0 = time.perf_counter()
            train_step(model, opt, x, y, args.lr, args.clip)
            seconds += time.perf_counter() - t0
        print("burst %.6f %d" % (seconds, args.serve * args.batch * args.seq), flush=True)
        line = sys.stdin.readline()
        if not line or line.strip() == "stop":
            print("memory n/a", flush=True)
            return


def learning_run(args, cfg, train, val):
    torch.set_num_threads(args.threads)
    model, opt = make(args, cfg)
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    for step in range(args.steps):
        x, y = random_batch(train, args.batch, args.seq, g)
        loss, norm = train_step(model, opt, x, y, lr_at(step, args), args.clip)
        if step % args.log_every == 0 or step == args.steps - 1:
            el = time.perf_counter() - t0
            print("step %5d  loss %.4f  lr %.2e  grad_norm %.3f  %.0f tokens/s" % (
                step, loss, lr_at(step, args), norm, (step + 1) * args.batch * args.seq / el), flush=True)
    train_wall = time.perf_counter() - t0
    val_loss, tokens = evaluate(model, val, args.seq)
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "steps": args.steps, "B": args.batch,
                      "T": args.seq, "train_wall_s": train_wall, "tokens_per_s": args.steps * args.batch * args.seq / train_wall,
                      "val_loss": val_loss, "val_tokens": tokens, "total_wall_s": time.perf_counter() - t0}))


def main():
    ap = argparse.ArgumentParser(description="PyTorch baseline: Llama training throughput / learning run")
    ap.add_argument("--preset", default="tiny", choices=sorted(ref.PRESETS))
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--seq", type=int, default=64, help="sequence length; 0: the preset's longest")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--lr-schedule", choices=["cosine", "constant"], default="cosine")
    ap.add_argument("--warmup", type=int, default=100, help="LR warmup steps (learning run)")
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.99)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0, help="global grad-norm clip, 0 disables")
    ap.add_argument("--steps", type=int, default=0, help="run the learning run for this many steps instead of the throughput test")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the learning run")
    ap.add_argument("--thread-counts", type=int, nargs="+", default=[1, 2], help="thread settings for the throughput test")
    ap.add_argument("--warmup-steps", type=int, default=20, help="untimed steps before the throughput measurement")
    ap.add_argument("--measure-steps", type=int, default=100, help="timed steps of the throughput measurement")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--serve", type=int, default=0, metavar="N",
                    help="run bursts of N steps for scripts/bench/interleave.py (uses --threads)")
    args = ap.parse_args()
    cfg = ref.preset(args.preset)
    if args.seq == 0:
        args.seq = cfg["max_position_embeddings"]
    train, val = load_splits(CORPUS)
    if args.serve > 0:
        serve(args, cfg, train)
    elif args.steps > 0:
        learning_run(args, cfg, train, val)
    else:
        throughput(args, cfg, train)


if __name__ == "__main__":
    main()
