"""PyTorch peer of `gradgrad bench jacobian`: the same cases, measured the same way.

`gradgrad bench jacobian` writes its case list (JSON) and runs this script with Debian's /usr/bin/python3
(python3-torch 1.13), the same thread count, jemalloc preloaded with purging off and OPENBLAS_CORETYPE
inherited. Each case is an autoencoder built like models/autoencoder.h (an MLP of the given widths, or the
Table-3 convolutional net), trained with Adam for repeated steps:

  plain          mse(D(E(x)), x)
  weight-decay   + weight_decay * sum ||W||^2 over the *.weight parameters
  exact          + lambda * mean_b ||J_E(x_b)||_F^2, timed three ways, the fastest reported:
                   loop              one backward pass per code unit
                   is_grads_batched  one batched pass with m one-hot cotangents
                   vmap              functorch.vmap(functorch.jacrev(E)) per sample
                 (--quick skips the loop way when m > 8; the exact-loop case still runs it)
  exact-loop     the loop way alone
  hutchinson     + lambda * mean_b (1/k) sum_p ||J_b^T u_p||^2, k Rademacher probes through is_grads_batched
  closed-form    a one-layer sigmoid encoder: + lambda * mean_b sum_i (h_i (1 - h_i))^2 sum_j W_ij^2
  plain-1layer   that model's plain step

Each case (each way) runs in a child forked from this process, which imports torch but computes nothing:
a first untimed step, warmup-1 more, then `repeats` timed ones (capped at 3 when the first step takes
over 2 s); median and min-max in ms. Memory as ours: the resident-set high-water mark (VmHWM, reset at the
child's start through /proc/self/clear_refs) minus the child's starting RSS, and the mark itself.

With --device cuda the models, data and steps are on the GPU, and each timed step is bracketed by
torch.cuda.synchronize() so that it counts the GPU's work, not only its launches.

Writes {"torch_version", "threads", "settings", "device", "matmul", "cases": {key: {...}}} to --json. Progress goes to
stderr only.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn

SLOW_STEP_MS = 2000.0
SLOW_CAP = 3
QUICK_LOOP_MAX_M = 8
EXACT_WAYS = ["loop", "is_grads_batched", "vmap"]


def synchronize(device):
    """Waits for the GPU's queued work, so a timer stopped after it measures the work, not the launches."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn, warmup, repeats, device=torch.device("cpu")):
    """Seconds of each of `repeats` calls of fn(), after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        out.append(time.perf_counter() - t0)
    return out


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- Memory --------------------------------------------------------------------------------------------
def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def page_faults():
    """Minor and major page faults of this process so far."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_minflt + u.ru_majflt


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---- Models (models/autoencoder.h) ---------------------------------------------------------------------
def activation(spec):
    if spec.startswith("leaky_relu"):
        slope = float(spec[len("leaky_relu("):-1]) if "(" in spec else 0.01
        return nn.LeakyReLU(slope)
    return {"identity": nn.Identity, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
            "softplus": nn.Softplus, "silu": nn.SiLU, "gelu": nn.GELU}[spec]()


class Crop(nn.Module):
    def __init__(self, top, left, h, w):
        super().__init__()
        self.top, self.left, self.h, self.w = top, left, h, w

    def forward(self, x):
        return x[..., self.top:self.top + self.h, self.left:self.left + self.w]


def build(cfg):
    """(encoder, decoder) as nn.Sequential, the layers of models/autoencoder.h."""
    act = cfg.get("activation", "relu")
    code_act = cfg.get("code_activation", "identity")
    out_act = cfg.get("output_activation", "identity")
    k = cfg["code_dim"]
    shape = cfg["input_shape"]
    if cfg.get("arch", "mlp") == "mlp":
        d = 1
        for s in shape:
            d *= s
        widths = [d] + list(cfg.get("hidden", [64]))
        enc, dec = [nn.Flatten()], []
        for i in range(len(widths)):
            last = i + 1 == len(widths)
            enc += [nn.Linear(widths[i], k if last else widths[i + 1]), activation(code_act if last else act)]
        for i in reversed(range(len(widths))):
            first = i + 1 == len(widths)
            dec += [nn.Linear(k if first else widths[i + 1], widths[i]), activation(out_act if i == 0 else act)]
        dec.append(nn.Unflatten(1, tuple(shape)))
        return nn.Sequential(*enc), nn.Sequential(*dec)
    c, h, w = shape
    wd = cfg.get("width", 32)

    def pad(n):
        extra = (16 - n % 16) % 16
        return extra // 2, extra - extra // 2
    ph, pw = pad(h), pad(w)
    gh, gw = (h + sum(ph)) // 16, (w + sum(pw)) // 16
    ch = [c, wd, 2 * wd, 4 * wd, 8 * wd]
    enc = [nn.ZeroPad2d((pw[0], pw[1], ph[0], ph[1]))]
    for i in range(4):
        enc += [nn.Conv2d(ch[i], ch[i + 1], 3, 2, 1), activation(act)]
    enc += [nn.Flatten(), nn.Linear(8 * wd * gh * gw, k), activation(code_act)]
    dec = [nn.Linear(k, 8 * wd * gh * gw), activation(act), nn.Unflatten(1, (8 * wd, gh, gw))]
    for i in range(4, 0, -1):
        dec += [nn.ConvTranspose2d(ch[i], ch[i - 1], 3, 2, 1, 1), activation(out_act if i == 1 else act)]
    dec.append(Crop(ph[0], pw[0], h, w))
    return nn.Sequential(*enc), nn.Sequential(*dec)


# ---- Penalties -----------------------------------------------------------------------------------------
def penalty_loop(enc, x, z):
    total = 0.0
    for k in range(z.shape[1]):
        g = torch.autograd.grad(z[:, k].sum(), x, create_graph=True)[0]
        total = total + g.pow(2).sum()
    return total / x.shape[0]


def penalty_batched(enc, x, z):
    m, b = z.shape[1], x.shape[0]
    cot = torch.eye(m, dtype=z.dtype, device=z.device).unsqueeze(1).expand(m, b, m)
    g = torch.autograd.grad(z, x, grad_outputs=cot, is_grads_batched=True, create_graph=True)[0]
    return g.pow(2).sum() / b


def penalty_vmap(enc, x, z):
    import functorch  # torch.func does not exist in 1.13
    jac = functorch.vmap(functorch.jacrev(lambda xi: enc(xi.unsqueeze(0)).squeeze(0)))(x)  # [B, m, ...x]
    return jac.pow(2).sum() / x.shape[0]


def penalty_hutchinson(enc, x, z, k):
    u = torch.randint(0, 2, (k,) + tuple(z.shape), device=z.device).to(z.dtype) * 2 - 1
    g = torch.autograd.grad(z, x, grad_outputs=u, is_grads_batched=True, create_graph=True)[0]
    return g.pow(2).sum() / (k * x.shape[0])


def penalty_closed_form(enc, x, z):
    w = enc[1].weight  # Flatten, Linear, Sigmoid
    return ((z * (1 - z)).pow(2) * w.pow(2).sum(1)).sum(1).mean()


def make_loss(case, way, enc, dec):
    method, lam = case["method"], case["lambda"]
    weights = [p for n, p in list(enc.named_parameters()) + list(dec.named_parameters()) if n.endswith("weight")]

    def loss(x):
        if method in ("plain", "weight-decay"):
            l = (dec(enc(x)) - x).pow(2).mean()
            if method == "weight-decay":
                l = l + case["weight_decay"] * sum(w.pow(2).sum() for w in weights)
            return l
        x = x.detach().requires_grad_(True)
        z = enc(x)
        rec = (dec(z) - x).pow(2).mean()
        if method == "closed-form":
            return rec + lam * penalty_closed_form(enc, x, z)
        if method == "hutchinson":
            return rec + lam * penalty_hutchinson(enc, x, z, case["probes"])
        fn = {"loop": penalty_loop, "is_grads_batched": penalty_batched, "vmap": penalty_vmap}[way]
        return rec + lam * fn(enc, x, z)
    return loss


def run_case(case, way, threads, device):
    torch.set_num_threads(threads)
    reset = reset_peak_rss()
    rss_start = status_kb("VmRSS") / 1024.0
    torch.manual_seed(0)
    enc, dec = build(case["model"])
    enc, dec = enc.to(device), dec.to(device)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    shape = (case["batch"],) + tuple(case["model"]["input_shape"])
    x = (torch.randn(shape) if case["data"] == "randn" else torch.rand(shape)).to(device)
    loss_fn = make_loss(case, way, enc, dec)
    last = {}

    def step():
        opt.zero_grad(set_to_none=True)
        l = loss_fn(x)
        l.backward()
        opt.step()
        last["loss"] = float(l)

    t0 = time.perf_counter()
    step()
    synchronize(device)
    first_ms = (time.perf_counter() - t0) * 1e3
    repeats, warmup = case["repeats"], max(case["warmup"] - 1, 0)
    note = None
    if first_ms > SLOW_STEP_MS and repeats > SLOW_CAP:
        repeats, warmup, note = SLOW_CAP, 0, f"repeats capped to {SLOW_CAP} (slow step)"
    for _ in range(warmup):
        step()
    faults_before = page_faults()
    run_order = [t * 1e3 for t in time_calls(step, 0, repeats, device)]
    faults_per_step = (page_faults() - faults_before) / repeats
    times = sorted(run_order)
    n = len(times)
    median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    peak = status_kb("VmHWM") / 1024.0
    out = {"median_ms": median, "min_ms": times[0], "max_ms": times[-1], "times_ms": run_order,
           "faults_per_step": faults_per_step, "repeats": n, "first_ms": first_ms,
           "rss_start_mb": rss_start, "rss_peak_mb": peak, "rss_growth_mb": peak - rss_start,
           "rss_reset": reset, "loss": last["loss"], "way": way or "autograd"}
    if note:
        out["note"] = note
    return out


def in_child(fn):
    """Runs fn() in a forked child; returns what it returned (a dict) or {"error": ...}."""
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = fn()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out = {"error": f"{type(e).__name__}: {e}"}
        data = json.dumps(out).encode()
        while data:
            data = data[os.write(w, data):]
        os.close(w)
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        return {"error": f"the child process died (status {status})"}
    return json.loads(b"".join(chunks))


def matmul_rate(threads, device, n=1024, repeats=10):
    torch.set_num_threads(threads)
    a, b = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"n": n, "gflops": 2.0 * n ** 3 / times[len(times) // 2] / 1e9}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", required=True, help="the case list written by gradgrad bench jacobian")
    p.add_argument("--json", required=True, help="output JSON path")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu", help="cpu or cuda: where the models, data and steps run")
    args = p.parse_args()
    device = torch.device(args.device)
    with open(args.cases) as f:
        cases = json.load(f)

    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "LD_PRELOAD", "MALLOC_CONF", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = {"peer": "pytorch", "torch_version": torch.__version__, "threads": args.threads,
              "quick": args.quick, "settings": env, "device": args.device,
              "matmul": in_child(lambda: matmul_rate(args.threads, device, repeats=5 if args.quick else 20)),
              "cases": {}}
    for case in cases:
        key, method = case["key"], case["method"]
        if method != "exact":
            way = "loop" if method == "exact-loop" else None
            r = in_child(lambda: run_case(case, way, args.threads, device))
            log(f"torch {key}: " + (r["error"] if "error" in r else f"{r['median_ms']:.3f} ms"))
            result["cases"][key] = r
            continue
        ways, best = {}, None
        for way in EXACT_WAYS:
            if way == "loop" and args.quick and case["model"]["code_dim"] > QUICK_LOOP_MAX_M:
                ways[way] = {"skipped": f"--quick (m > {QUICK_LOOP_MAX_M})"}
                continue
            r = in_child(lambda: run_case(case, way, args.threads, device))
            log(f"torch {key} {way}: " + (r["error"] if "error" in r else f"{r['median_ms']:.3f} ms"))
            ways[way] = r
            if "error" not in r and (best is None or r["median_ms"] < best["median_ms"]):
                best = r
        out = dict(best) if best else {"error": "no way of computing the exact penalty ran"}
        out["ways"] = ways
        result["cases"][key] = out
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
