#!/usr/bin/python3
"""All-reduce through PyTorch's gloo backend on localhost: the external reference for
docs/bench-collectives.md (AllReduceBench measures fourfold's in-process ring the same way).

Run with Debian's python (torch 1.13): /usr/bin/python3 scripts/bench/gloo_allreduce.py
Options: --procs 2 4 8 --sizes-mib 1 64 --iters 20 --iters-large 5

For each process count and size: N processes on 127.0.0.1 (init_method file://, nothing leaves the
host), one torch thread each, float32 SUM all-reduce. Each iteration starts after a barrier; its
time is the slowest rank's. Reports the median, algbw = S / t and busbw = algbw * 2(n-1)/n as
nccl-tests defines them, next to a one-thread memcpy of 64 MiB (torch copy_) measured in the same
run.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

MIB = 1 << 20


def memcpy_gbps(reps=10):
    torch.set_num_threads(1)
    src = torch.ones(64 * MIB // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    dst.copy_(src)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - t0)
    return 64 * MIB / statistics.median(times) / 1e9


def worker(rank, world, init_file, sizes_mib, iters, iters_large, queue):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world)
    results = {}
    for mib in sizes_mib:
        x = torch.full((mib * MIB // 4,), 1e-3, dtype=torch.float32)
        n_iter = iters_large if mib >= 16 else iters
        for _ in range(2):  # warm-up
            dist.all_reduce(x)
        times = []
        for _ in range(n_iter):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(x)
            dt = torch.tensor([time.perf_counter() - t0], dtype=torch.float64)
            dist.all_reduce(dt, op=dist.ReduceOp.MAX)  # the slowest rank's time
            times.append(dt.item())
        results[mib] = statistics.median(times)
    if rank == 0:
        queue.put(results)
    dist.barrier()
    dist.destroy_process_group()


def run(world, sizes_mib, iters, iters_large):
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "init")
        mp.start_processes(worker, args=(world, init_file, sizes_mib, iters, iters_large, queue),
                           nprocs=world, join=True, start_method="spawn")
    return queue.get()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--sizes-mib", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--iters-large", type=int, default=5)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, gloo, {os.cpu_count()} cpus", flush=True)
    memcpy_before = memcpy_gbps()
    rows = []
    for n in a.procs:
        res = run(n, a.sizes_mib, a.iters, a.iters_large)
        for mib, t in sorted(res.items()):
            algbw = mib * MIB / t / 1e9
            rows.append((n, mib, t, algbw, algbw * 2 * (n - 1) / n))
    memcpy = statistics.median([memcpy_before, memcpy_gbps()])
    print(f"memcpy 64 MiB, 1 thread (torch copy_, median of before/after): {memcpy:.2f} GB/s")
    print(f"{'procs':<6} {'size':<7} {'ms/op':>10} {'algbw GB/s':>11} {'busbw GB/s':>11} {'busbw/memcpy':>13}")
    for n, mib, t, algbw, busbw in rows:
        print(f"{n:<6} {str(mib) + ' MiB':<7} {t * 1e3:>10.3f} {algbw:>11.2f} {busbw:>11.2f} {100 * busbw / memcpy:>12.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
