"""PyTorch peer for the C++ autodiff engine benchmark.

The C++ benchmark launches this script as a subprocess in the same run, with
the same thread count, so that both engines are measured on the same machine
under the same conditions. It reports, as JSON:

1. matmul: float32 C = A @ B for square n (median GFLOP/s, p10/p90 of ms),
   i.e. the BLAS ceiling the engine's dense kernels are compared against;
2. op overhead: median microseconds of a single `a + b` and `torch.tanh(a)`
   on 1-element tensors, i.e. the per-op dispatch and tape cost;
3. training steps of a tanh autoencoder (d -> h -> m -> h -> d) with Adam:
   "plain" (MSE only) and "exact" (MSE + 0.1 * mean_b ||dz_b/dx_b||_F^2, the
   contractive penalty on the encoder Jacobian). Every way PyTorch offers to
   get the per-sample Jacobian is timed ("loop" over latent units,
   "is_grads_batched", functorch "vmap" of jacrev) after checking that they
   agree on the penalty value; the fastest one is reported.

Only stderr carries progress lines; nothing is printed to stdout.
"""
import argparse
import json
import os
import re
import sys
import time

import torch
import torch.nn as nn

# The exact-penalty ways live once, in the Jacobian benchmark's peer (same folder).
from torch_jacobian import penalty_batched, penalty_loop, penalty_vmap, time_calls

MATMUL_SIZES = [256, 512, 1024, 2048]
MATMUL_SIZES_QUICK = [256, 512]
SIZES = {  # name: (d, h, m, batch)
    "toy": (2, 64, 2, 256),
    "mnist32": (784, 512, 32, 128),
    "mnist128": (784, 512, 128, 128),
}
PENALTY_WEIGHT = 0.1
LOOP_CAP_MNIST128 = 5
SLOW_STEP_S = 1.0  # any step slower than this is capped to SLOW_CAP repeats
SLOW_CAP = 5
OVERHEAD_INNER = 1000
EXACT_METHODS = ["loop", "is_grads_batched", "vmap"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def quantile(xs, q):
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize_ms(times_s):
    ms = [t * 1e3 for t in times_s]
    return {"median_ms": quantile(ms, 0.5), "p10_ms": quantile(ms, 0.1),
            "p90_ms": quantile(ms, 0.9)}


def blas_info():
    text = torch.__config__.show()
    tokens = re.findall(r"\b((?:BLAS|LAPACK)_INFO=[^,\s]+)", text)
    lines = [l.strip(" -") for l in text.splitlines()
             if re.search(r"BLAS|LAPACK|MKL", l) and "Build settings" not in l]
    return "; ".join(lines + tokens)


def bench_matmul(sizes, warmup, repeats):
    rows = []
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        s = summarize_ms(time_calls(lambda: a @ b, max(warmup, 1), repeats))
        s = {"n": n, "gflops": 2.0 * n ** 3 / (s["median_ms"] * 1e-3) / 1e9, **s}
        log(f"torch matmul n={n}: {s['gflops']:.1f} GFLOP/s")
        rows.append(s)
    return rows


def bench_overhead(repeats):
    a, b = torch.randn(1), torch.randn(1)

    def per_op_us(op):
        def loop():
            for _ in range(OVERHEAD_INNER):
                op()
        times = time_calls(loop, 1, max(repeats, 3))
        return quantile(times, 0.5) / OVERHEAD_INNER * 1e6

    res = {"add": per_op_us(lambda: a + b), "tanh": per_op_us(lambda: torch.tanh(a))}
    log(f"torch op overhead: add {res['add']:.2f} us, tanh {res['tanh']:.2f} us")
    return res


class AutoEncoder(nn.Module):
    def __init__(self, d, h, m):
        super().__init__()
        self.l1, self.l2 = nn.Linear(d, h), nn.Linear(h, m)
        self.l3, self.l4 = nn.Linear(m, h), nn.Linear(h, d)

    def encode(self, x):
        return torch.tanh(self.l2(torch.tanh(self.l1(x))))

    def decode(self, z):
        return self.l4(torch.tanh(self.l3(z)))


PENALTIES = {"loop": penalty_loop, "is_grads_batched": penalty_batched,
             "vmap": penalty_vmap}


def make_case(size):
    d, h, m, batch = SIZES[size]
    torch.manual_seed(0)
    model = AutoEncoder(d, h, m)
    x = torch.randn(batch, d) if size == "toy" else torch.rand(batch, d)
    return model, x


def loss_fn(model, x, method):
    """Returns (loss, penalty tensor or None)."""
    if method == "autograd":
        return ((model.decode(model.encode(x)) - x) ** 2).mean(), None
    x = x.detach().requires_grad_(True)
    z = model.encode(x)
    pen = PENALTIES[method](model.encode, x, z)
    return ((model.decode(z) - x) ** 2).mean() + PENALTY_WEIGHT * pen, pen


def check_agreement(size):
    model, x = make_case(size)
    values, errors = {}, {}
    for method in EXACT_METHODS:
        try:
            values[method] = float(loss_fn(model, x, method)[1])
        except Exception as e:  # e.g. functorch missing or unsupported op
            errors[method] = f"{type(e).__name__}: {e}"
    ref = values.get("is_grads_batched", next(iter(values.values()), None))
    diff = max((abs(v - ref) / max(abs(ref), 1e-30) for v in values.values()),
               default=0.0)
    return {"max_rel_diff": diff, "methods": list(values), "values": values,
            "errors": errors}


def bench_step(size, mode, method, warmup, repeats, cap=None):
    """Times `repeats` Adam steps. Repeats are capped to min(repeats, cap) when
    cap is given or when the first warmup step exceeds SLOW_STEP_S."""
    model, x = make_case(size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    last = {}

    def step():
        opt.zero_grad()
        loss, pen = loss_fn(model, x, method)
        loss.backward()
        opt.step()
        last["pen"] = None if pen is None else float(pen)

    first = time_calls(step, 0, 1)[0]
    if first > SLOW_STEP_S:
        cap, warmup = min(cap or SLOW_CAP, SLOW_CAP), 1
    reps = repeats if cap is None else min(repeats, cap)
    s = summarize_ms(time_calls(step, warmup - 1, reps))
    log(f"torch {size} {mode} {method}: {s['median_ms']:.2f} ms")
    row = {"size": size, "mode": mode, "method": method, **s,
           "repeats": reps, "n": reps, "penalty": last.get("pen")}
    if reps < repeats:
        row["note"] = f"repeats capped to {reps} (slow step: first {first:.2f} s)"
    return row


def bench_steps(warmup, repeats, quick):
    steps, fastest, agreement = [], {}, {}
    for size in SIZES:
        steps.append(bench_step(size, "plain", "autograd", warmup, repeats))
        agreement[size] = check_agreement(size)
        best = None
        for method in EXACT_METHODS:
            if method in agreement[size]["errors"]:
                steps.append({"size": size, "mode": "exact", "method": method,
                              "available": False,
                              "error": agreement[size]["errors"][method]})
                log(f"torch {size} exact {method}: unavailable")
                continue
            cap = None
            if size == "mnist128" and method == "loop":
                if quick:
                    steps.append({"size": size, "mode": "exact", "method": method,
                                  "skipped": "--quick"})
                    log(f"torch {size} exact loop: skipped (--quick)")
                    continue
                cap = LOOP_CAP_MNIST128
            row = bench_step(size, "exact", method, warmup, repeats, cap)
            steps.append(row)
            if best is None or row["median_ms"] < best["median_ms"]:
                best = row
        fastest[size] = best["method"] if best else None
    return steps, fastest, agreement


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", required=True, help="output JSON path")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    repeats, warmup = (3, 1) if args.quick else (args.repeats, args.warmup)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    env = {k: os.environ.get(k) for k in
           ("OPENBLAS_CORETYPE", "LD_PRELOAD", "MALLOC_CONF", "OMP_NUM_THREADS")}
    sizes = MATMUL_SIZES_QUICK if args.quick else MATMUL_SIZES
    result = {"peer": "pytorch", "torch_version": torch.__version__,
              "threads": args.threads, "quick": args.quick,
              "settings": {**env, "blas_info": blas_info()},
              "matmul": bench_matmul(sizes, warmup, repeats),
              "op_overhead_us": bench_overhead(repeats)}
    steps, fastest, agreement = bench_steps(warmup, repeats, args.quick)
    result.update(steps=steps, fastest_exact=fastest, exact_agreement=agreement)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
