#!/usr/bin/python3
"""OpenBLAS sgemm (through numpy) on the shapes and variants of GemmBench, as the reference.

Run with Debian's python (numpy 1.24 on OpenBLAS); OPENBLAS_NUM_THREADS picks the cases (_t1 or _t2) it runs:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/bench/openblas_gemm.py
Prints which OpenBLAS it runs (version, kernel/core type, threads), then one line per case:
    case  GFLOP/s (median of --repeats timed batches; 2*M*N*K flops per call).
Cases are named as in GemmBench: <variant>_<M>_<N>_<K>_t<threads>, variant nn: A·B, nt: A·Bᵀ, tn: Aᵀ·B
(numpy passes the transposed views to sgemm as transpose flags; nothing is copied).
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import sys
import time


def default_cases():
    cases = [f"nn_{n}_{n}_{n}_t1" for n in (512, 1024)]
    for v in ("nn", "nt", "tn"):
        for n in (128, 256, 384, 512):
            for k in (128, 256, 384, 512):
                cases.append(f"{v}_768_{n}_{k}_t1")
    cases.append("nn_1024_1024_1024_t2")
    return cases


def openblas_info():
    """Version, core type and thread count of the OpenBLAS numpy is linked against."""
    info = {}
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        for fn, key in (("openblas_get_config", "config"), ("openblas_get_corename", "corename")):
            f = getattr(lib, fn, None)
            if f is not None:
                f.restype = ctypes.c_char_p
                info[key] = f().decode()
        f = getattr(lib, "openblas_get_num_threads", None)
        if f is not None:
            info["threads"] = f()
        info["library"] = name
        break
    try:
        import threadpoolctl  # optional: names the exact kernel architecture
        info["threadpoolctl"] = [
            {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for p in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        pass
    return info


def measure(np, variant, m, n, k, repeats, min_batch_s):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if variant[0] == "t" else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if variant[1] == "t" else (k, n), dtype=np.float32)
    a_op = a.T if variant[0] == "t" else a
    b_op = b.T if variant[1] == "t" else b
    c = np.empty((m, n), dtype=np.float32)
    # Warm-up, then size a batch to last about min_batch_s.
    calls = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            np.matmul(a_op, b_op, out=c)
        dt = time.perf_counter() - t0
        if dt >= min_batch_s:
            break
        calls *= 2
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            np.matmul(a_op, b_op, out=c)
        dt = time.perf_counter() - t0
        rates.append(2.0 * m * n * k * calls / dt / 1e9)
    rates.sort()
    return rates[len(rates) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="*", help="cases like nt_768_256_512_t1 (default: GemmBench's)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batch-seconds", type=float, default=0.2)
    p.add_argument("--json", help="also write {case: GFLOP/s} and the OpenBLAS info to this file")
    args = p.parse_args()
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"warning: {var}={os.environ[var]} is set; the reference is meant to run without it", file=sys.stderr)
    cases = args.cases or default_cases()
    import numpy as np  # after the environment checks: OpenBLAS reads its variables at load time

    info = openblas_info()
    print(f"numpy {np.__version__}; OpenBLAS: {info.get('config', '?')}; core {info.get('corename', '?')}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    if "threadpoolctl" in info:
        print("threadpoolctl:", info["threadpoolctl"])
    results = {}
    blas_threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "0") or 0)
    for case in cases:
        variant, m, n, k, t = case.split("_")
        if int(t[1:]) != blas_threads:
            # OpenBLAS fixes its thread pool when it loads: one process per thread count.
            print(f"{case}: skipped, needs OPENBLAS_NUM_THREADS={t[1:]} (this run has {blas_threads or 'unset'})", file=sys.stderr)
            continue
        g = measure(np, variant, int(m), int(n), int(k), args.repeats, args.batch_seconds)
        results[case] = g
        print(f"{case:24s} {g:8.1f} GFLOP/s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"openblas": info, "gflops": results}, f, indent=1)


if __name__ == "__main__":
    main()
