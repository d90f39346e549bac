"""Speed of rnnkit against PyTorch's CPU RNN/GRU/LSTM and against the matrix-multiply lower bound.

    python benchmarks/speed.py            # the full table (a few minutes); `make bench` runs this
    python benchmarks/speed.py --quick    # a smoke run in well under a minute

Each implementation runs in its own child process (this script with ``--impl``), with 2 threads
(``OMP/OPENBLAS/MKL_NUM_THREADS=2`` set before NumPy or torch is imported, and
``torch.set_num_threads(2)``). The parent runs the children ``--rounds`` times in turn (bound,
rnnkit, torch, bound, ...) and keeps, per case, the median over rounds of each child's median
after warm-up, so that a burst of load on a shared machine hits every implementation alike.

What is timed (float32, one layer, batch first):
    train      forward over the sequence, a dense layer to V classes, softmax cross-entropy over
               every step, full BPTT back to the input (dx included: PyTorch gets an input with
               requires_grad), no optimizer step; tokens per second = B * T / time.
    infer      the forward pass and the dense layer, no gradients.
    generate   batch 1, one token at a time: embedding lookup, one cell step, dense, softmax,
               sample; microseconds per token. rnnkit runs its sampling loop
               (``rnnkit.sampling.generate_ids``, 100 tokens per call after a one-token prime);
               PyTorch an ``nn.Embedding``/``nn.LSTM``/``nn.Linear`` loop with ``multinomial``.
    bound      only the matrix products each of those needs, at exactly its shapes, with
               NumPy's BLAS into preallocated outputs, run with 2 BLAS threads and with 1 and
               the faster taken (small products can lose to thread hand-offs, and on a loaded
               machine 2-thread OpenBLAS can be many times slower): ``x Wx`` for all steps, ``h Wh`` per
               step (G gate blocks), the dense layer, and in training ``dlogits Wd^T``,
               ``y^T dlogits``, ``dA Wh^T`` per step, ``h^T dA``, ``x^T dA``, ``dA Wx^T``; for
               generation the three matrix-vector products ``x Wx``, ``h Wh``, ``h Wd``.
    memory     the peak resident-set growth (RSS sampled every 0.5 ms by a thread, minus the RSS
               before the step) of one training step at T = 1000 in a fresh process after one
               step at T = 10 (so loading libraries and compiled code is not counted), the same
               method for both libraries; rnnkit also at T = 250, 500 and with truncated BPTT.

Results go to ``benchmarks/results/speed.json`` and ``speed.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

THREADS = 2
CELLS = ("rnn", "gru", "lstm")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
SHAPES = [(32, 100, 64, 128, 64), (32, 100, 64, 256, 64), (64, 50, 128, 512, 128)]   # B T D H V
GEN_SHAPES = [(64, 256, 64), (128, 512, 128)]                                       # D H V
SWEEP_T = [(32, T, 64, 256, 64) for T in (25, 50, 100, 200)]
SWEEP_B = [(B, 100, 64, 256, 64) for B in (8, 16, 32, 64)]
MEMORY_SHAPE = (32, 1000, 64, 256, 64)
IMPLS = ("bound", "rnnkit", "torch")
HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- timing helpers

def median_time(fn, warmup: int, reps: int, budget: float) -> float:
    """Median seconds per call of ``fn`` over at least ``reps`` calls (more while under ``budget``
    seconds, at most 4 * reps), after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < reps or (time.perf_counter() - start < budget and len(times) < 4 * reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fastest_blas_time(fn, warmup: int, reps: int, budget: float) -> float:
    """:func:`median_time` with NumPy's BLAS at THREADS threads and at 1; the smaller."""
    times = [median_time(fn, warmup, reps, budget)]
    if set_blas_threads(1):
        times.append(median_time(fn, warmup, reps, budget))
        set_blas_threads(THREADS)
    return min(times)


# --------------------------------------------------------------------------- the three implementations

def set_blas_threads(n: int) -> bool:
    """Set the thread count of NumPy's OpenBLAS (found in the memory map); False if not found."""
    import ctypes
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line},
                       key=lambda p: "numpy" not in p)
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads", "openblas_set_num_threads64_"):
            if hasattr(lib, name):
                getattr(lib, name)(n)
                return True
    return False


def bound_cases(np):
    """Closures doing only the matrix products of each case, into preallocated outputs."""
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def train_or_infer(cell, shape, train):
        B, T, D, H, V = shape
        G = GATES[cell]
        x, Wx, Wh, Wd = arr(T * B, D), arr(D, G * H), arr(H, G * H), arr(H, V)
        xp, hs, hp = arr(T * B, G * H), arr(T * B, H), arr(B, G * H)
        logits, dlogits, dWd, dy = arr(T * B, V), arr(T * B, V), arr(H, V), arr(T * B, H)
        dh, dWh, dWx, dx = arr(B, H), arr(H, G * H), arr(D, G * H), arr(T * B, D)

        def run():
            np.matmul(x, Wx, out=xp)                          # xp = x Wx, all steps
            for t in range(T):
                np.matmul(hs[t * B:(t + 1) * B], Wh, out=hp)  # h Wh, per step
            np.matmul(hs, Wd, out=logits)                     # dense
            if not train:
                return
            np.matmul(hs.T, dlogits, out=dWd)                 # dWd = y^T dlogits
            np.matmul(dlogits, Wd.T, out=dy)                  # dy = dlogits Wd^T
            for t in range(T):
                np.matmul(xp[t * B:(t + 1) * B], Wh.T, out=dh)  # dh = dA Wh^T, per step
            np.matmul(hs.T, xp, out=dWh)                      # dWh = h^T dA
            np.matmul(x.T, xp, out=dWx)                       # dWx = x^T dA
            np.matmul(xp, Wx.T, out=dx)                       # dx = dA Wx^T
        return run

    def generate(cell, shape):
        D, H, V = shape
        G = GATES[cell]
        x, h, Wx, Wh, Wd = arr(1, D), arr(1, H), arr(D, G * H), arr(H, G * H), arr(H, V)
        xp, hp, logits = arr(1, G * H), arr(1, G * H), arr(1, V)

        def run():
            np.matmul(x, Wx, out=xp)
            np.matmul(h, Wh, out=hp)
            np.matmul(h, Wd, out=logits)
        return run

    return train_or_infer, generate


def rnnkit_cases(np):
    import rnnkit
    from rnnkit.layers.dense import Dense
    from rnnkit.losses import softmax_cross_entropy
    from rnnkit.models.language_model import LanguageModelConfig, LanguageModelNetwork
    from rnnkit.sampling import generate_ids

    networks = {"rnn": rnnkit.RNN, "gru": rnnkit.GRU, "lstm": rnnkit.LSTM}

    def build(cell, D, H, V):
        return networks[cell](D, H, seed=0), Dense(H, V, seed=1)

    def train_or_infer(cell, shape, train):
        B, T, D, H, V = shape
        net, dense = build(cell, D, H, V)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((B, T, D)).astype(np.float32)
        target = rng.integers(0, V, (B, T))

        def run():
            y, _, cache = net.forward(x, training=train)
            logits, dense_cache = dense.forward(y)
            if not train:
                return
            _, dlogits = softmax_cross_entropy(logits, target)
            dy, _ = dense.backward(dlogits, dense_cache)
            net.backward(dy, None, cache)
        return run

    def generate(cell, shape):
        # the library's own sampling loop (rnnkit.sampling.generate_ids, as `rnnkit sample` uses):
        # 100 tokens after a one-token prime per call, so the prime's forward pass is included
        D, H, V = shape
        model = LanguageModelNetwork(LanguageModelConfig(V, D, H, 1, cell, 0.0), seed=0)
        rng = np.random.default_rng(0)
        box = {"token": 0}

        def run():
            tokens = generate_ids(model, np.array([box["token"]]), 100, seed=rng)
            box["token"] = int(tokens[-1])
        return run

    def train_memory(cell, shape, window):
        B, T, D, H, V = shape
        net, dense = build(cell, D, H, V)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((B, T, D)).astype(np.float32)
        target = rng.integers(0, V, (B, T))

        def run():
            state = None
            for start in range(0, T, window):
                chunk = slice(start, start + window)
                y, state, cache = net.forward(x[:, chunk], state)
                logits, dense_cache = dense.forward(y)
                _, dlogits = softmax_cross_entropy(logits, target[:, chunk])
                dy, _ = dense.backward(dlogits, dense_cache)
                net.backward(dy, None, cache)
                del y, cache, logits, dense_cache, dlogits, dy
        return run

    return train_or_infer, generate, train_memory


def torch_cases(np):
    import torch
    torch.set_num_threads(THREADS)
    F = torch.nn.functional
    modules = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}

    def build(cell, D, H, V):
        torch.manual_seed(0)
        return modules[cell](D, H, batch_first=True), torch.nn.Linear(H, V)

    def train_or_infer(cell, shape, train):
        B, T, D, H, V = shape
        net, dense = build(cell, D, H, V)
        x = torch.randn(B, T, D, requires_grad=train)
        target = torch.randint(0, V, (B * T,))

        def run():
            if not train:
                with torch.inference_mode():
                    dense(net(x)[0])
                return
            for module in (net, dense):
                module.zero_grad(set_to_none=True)
            x.grad = None
            logits = dense(net(x)[0])
            F.cross_entropy(logits.reshape(B * T, V), target).backward()
        return run

    def generate(cell, shape):
        D, H, V = shape
        net, dense = build(cell, D, H, V)
        embedding = torch.nn.Embedding(V, D)
        box = {"state": None, "token": torch.zeros(1, 1, dtype=torch.long)}

        def run():
            state, token = box["state"], box["token"]
            with torch.inference_mode():
                for _ in range(100):
                    y, state = net(embedding(token), state)
                    p = torch.softmax(dense(y[:, -1]), dim=-1)
                    token = torch.multinomial(p, 1)
            box["state"], box["token"] = state, token
        return run

    def train_memory(cell, shape, window):
        B, T, D, H, V = shape
        net, dense = build(cell, D, H, V)
        x = torch.randn(B, T, D, requires_grad=True)
        target = torch.randint(0, V, (B, T))

        def run():
            state = None
            for start in range(0, T, window):
                y, state = net(x[:, start:start + window], state)
                logits = dense(y)
                F.cross_entropy(logits.reshape(-1, V), target[:, start:start + window].reshape(-1)).backward()
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
                del y, logits
        return run

    return train_or_infer, generate, train_memory


# --------------------------------------------------------------------------- children

def child_speed(impl: str, quick: bool) -> dict:
    import numpy as np
    builders = {"bound": bound_cases, "rnnkit": rnnkit_cases, "torch": torch_cases}[impl](np)
    train_or_infer, generate = builders[0], builders[1]
    shapes = SHAPES[:1] if quick else SHAPES
    reps, budget, warmup = (3, 0.3, 1) if quick else (7, 2.0, 2)
    timer = fastest_blas_time if impl == "bound" else median_time
    out = {}
    for cell in CELLS:
        for shape in shapes:
            B, T = shape[:2]
            for kind in ("train", "infer"):
                seconds = timer(train_or_infer(cell, shape, kind == "train"), warmup, reps, budget)
                out[f"{kind}/{cell}/{'x'.join(map(str, shape))}"] = {"seconds": seconds, "tokens_per_s": B * T / seconds}
        for shape in GEN_SHAPES[:1] if quick else GEN_SHAPES:
            seconds = timer(generate(cell, shape), warmup, reps, budget / 2)
            out[f"generate/{cell}/{'x'.join(map(str, shape))}"] = {"us_per_token": seconds / (1 if impl == "bound" else 100) * 1e6}
    if impl != "torch":
        for shape in (SWEEP_T[:2] + SWEEP_B[:2]) if quick else (SWEEP_T + SWEEP_B):
            B, T = shape[:2]
            seconds = timer(train_or_infer("lstm", shape, True), warmup, reps, budget)
            out[f"sweep/lstm/{'x'.join(map(str, shape))}"] = {"seconds": seconds, "tokens_per_s": B * T / seconds}
    return out


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child_memory(impl: str, cell: str, shape: tuple, window: int) -> dict:
    import numpy as np
    builders = {"rnnkit": rnnkit_cases, "torch": torch_cases}[impl](np)
    B, T, D, H, V = shape
    builders[2](cell, (B, 10, D, H, V), 10)()      # load libraries and compiled code first
    run = builders[2](cell, shape, window)
    before, peak, done = rss_bytes(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    run()
    done.set()
    sampler.join()
    peak[0] = max(peak[0], rss_bytes())
    return {"peak_mb": (peak[0] - before) / 2**20}


# --------------------------------------------------------------------------- parent

def run_child(args: list[str]) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), OPENBLAS_NUM_THREADS=str(THREADS),
               MKL_NUM_THREADS=str(THREADS))
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_seconds(module: str, repeats: int = 5) -> float:
    """Median wall time of ``python -c 'import module'`` in a fresh interpreter."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def combine(rounds: list[dict]) -> dict:
    """Per case and metric, the median over rounds."""
    out = {}
    for key in rounds[0]:
        out[key] = {m: statistics.median(r[key][m] for r in rounds) for m in rounds[0][key]}
    return out


def markdown(results: dict, quick: bool) -> str:
    speed, lines = results["speed"], []
    meta = results["meta"]
    lines.append(f"# rnnkit speed ({'quick' if quick else 'full'} run)\n")
    lines.append(f"{meta['machine']}; {THREADS} threads; float32; medians over {meta['rounds']} round(s) "
                 f"of per-process medians; load average at start {meta['loadavg']}.\n")
    lines.append("## Training step and inference (tokens/s; higher is better)\n")
    lines.append("| task | cell | B, T, D, H, V | rnnkit | PyTorch | bound | rnnkit time / PyTorch | rnnkit time / bound | PyTorch / bound |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for key in speed["rnnkit"]:
        kind, cell, shape = key.split("/")
        if kind not in ("train", "infer"):
            continue
        r, t, b = (speed[i][key]["seconds"] for i in IMPLS[1:] + IMPLS[:1])
        tok = lambda s: f"{speed['rnnkit'][key]['tokens_per_s'] * speed['rnnkit'][key]['seconds'] / s:,.0f}"
        lines.append(f"| {kind} | {cell} | {shape.replace('x', ', ')} | {tok(r)} | {tok(t)} | {tok(b)} | "
                     f"{r / t:.2f} | {r / b:.2f} | {t / b:.2f} |")
    lines.append("\n## Generation at batch 1 (microseconds per token; lower is better)\n")
    lines.append("| cell | D, H, V | rnnkit | PyTorch | 3 matvecs (bound) | rnnkit / PyTorch | rnnkit / bound |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for key in speed["rnnkit"]:
        kind, cell, shape = key.split("/")
        if kind != "generate":
            continue
        r, t, b = (speed[i][key]["us_per_token"] for i in ("rnnkit", "torch", "bound"))
        lines.append(f"| {cell} | {shape.replace('x', ', ')} | {r:.1f} | {t:.1f} | {b:.1f} | {r / t:.2f} | {r / b:.2f} |")
    lines.append("\n## Linear in T and B (LSTM training step; constant tokens/s means linear cost)\n")
    lines.append("| B, T, D, H, V | rnnkit tokens/s | bound tokens/s | rnnkit / bound |")
    lines.append("|---|---:|---:|---:|")
    for key in speed["rnnkit"]:
        if key.startswith("sweep/"):
            r, b = speed["rnnkit"][key], speed["bound"][key]
            lines.append(f"| {key.split('/')[2].replace('x', ', ')} | {r['tokens_per_s']:,.0f} | "
                         f"{b['tokens_per_s']:,.0f} | {r['seconds'] / b['seconds']:.2f} |")
    if results.get("memory"):
        lines.append("\n## Peak memory of one training step (MB of RSS growth in a fresh process)\n")
        lines.append("| cell | B, T, D, H, V | BPTT window | rnnkit | PyTorch | rnnkit / PyTorch |")
        lines.append("|---|---|---:|---:|---:|---:|")
        for key, m in results["memory"].items():
            cell, shape, window = key.split("/")
            r, t = m["rnnkit"], m.get("torch")
            theirs = "" if t is None else f"{t:.0f} | {r / t:.2f}"
            lines.append(f"| {cell} | {shape.replace('x', ', ')} | {window} | {r:.0f} | {theirs or ' |'} |")
    lines.append(f"\n`python -c 'import rnnkit'`: {results['import_seconds']['rnnkit']:.2f} s "
                 f"(`import numpy` alone: {results['import_seconds']['numpy']:.2f} s).\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one shape, one round, short timings")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of children (default 3, quick 1)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory children")
    parser.add_argument("--memory-only", action="store_true",
                        help="measure memory only, into the speed results already in --out")
    parser.add_argument("--out", default=str(HERE / "results"), help="directory for speed.json and speed.md")
    parser.add_argument("--impl", choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--memory", help=argparse.SUPPRESS)  # child: cell/BxTxDxHxV/window
    args = parser.parse_args(argv)

    if args.memory:
        cell, shape, window = args.memory.split("/")
        print(json.dumps(child_memory(args.impl, cell, tuple(map(int, shape.split("x"))), int(window))))
        return 0
    if args.impl:
        print(json.dumps(child_speed(args.impl, args.quick)))
        return 0

    rounds = args.rounds or (1 if args.quick else 3)
    with open("/proc/loadavg") as f:
        loadavg = " ".join(f.read().split()[:3])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"meta": {"machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.python_version()}",
                        "rounds": 0, "loadavg": loadavg, "threads": THREADS},
               "speed": {}, "memory": {},
               "import_seconds": {m: import_seconds(m) for m in ("numpy", "rnnkit")}}

    def write() -> str:  # after every round, so an interrupted run keeps what it measured
        (out / "speed.json").write_text(json.dumps(results, indent=1) + "\n")
        table = markdown(results, args.quick)
        (out / "speed.md").write_text(table)
        return table

    if args.memory_only:
        previous = json.loads((out / "speed.json").read_text())
        results["meta"], results["speed"] = previous["meta"], previous["speed"]
        rounds = 0
    per_impl = {impl: [] for impl in IMPLS}
    for r in range(rounds):
        for impl in IMPLS:
            print(f"round {r + 1}/{rounds}: {impl}", file=sys.stderr, flush=True)
            per_impl[impl].append(run_child(["--impl", impl] + (["--quick"] if args.quick else [])))
        results["meta"]["rounds"] = r + 1
        results["speed"] = {impl: combine(runs) for impl, runs in per_impl.items()}
        write()
    if not args.no_memory:
        B, T, D, H, V = MEMORY_SHAPE
        jobs = [(cell, MEMORY_SHAPE, T, ("rnnkit", "torch")) for cell in CELLS]
        if not args.quick:
            jobs += [("lstm", (B, t, D, H, V), t, ("rnnkit",)) for t in (250, 500)]
            jobs += [("lstm", MEMORY_SHAPE, 100, ("rnnkit", "torch"))]
        for cell, shape, window, impls in jobs:
            key = f"{cell}/{'x'.join(map(str, shape))}/{window}"
            print(f"memory {key}", file=sys.stderr, flush=True)
            results["memory"][key] = {impl: run_child(["--impl", impl, "--memory", key])["peak_mb"]
                                      for impl in impls}
    print(write())
    return 0

if __name__ == "__main__":
    sys.exit(main())
