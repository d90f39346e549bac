"""Language-model quality: validation loss against training time, rnnkit against PyTorch on the CPU.

Both sides train the same model (char embedding 64 -> 2-layer LSTM 512 with dropout 0.25 between
layers and before the softmax -> linear), with the same hyperparameters (Adam 2e-3, batches of
64 streams x 100 steps with the hidden state carried between windows, gradient clipping at 5, and
``train-lm``'s schedule: the learning rate halves whenever an evaluation does not beat the best so
far), on the same data layout (the first 90% of the text, the last 10% held out
as nanoGPT splits it), each in its own process with 2 threads. Every minute of *training* time
(evaluation excluded) both evaluate the full validation text in nats per character, read as 64
contiguous streams with the state carried.

    python benchmarks/language_model.py --minutes 30            # tiny Shakespeare, both sides, table + plot
    python benchmarks/language_model.py --impl torch --minutes 2 # one side only (prints JSON)
    python benchmarks/language_model.py --text ../shared/data/ud_english_ewt/en_ewt-ud-train.conllu \
        --minutes 2 --cli --name ewt_defaults                    # an unseen text: web English sentences

The hyperparameters are rnnkit's defaults for ``train-lm``. With ``--cli`` the rnnkit side is the
command a user types, ``rnnkit train-lm TEXT --out MODEL --max-minutes N`` with nothing else set
(its validation losses read from the history file it writes), which is the issue's "defaults on a
text nobody tuned for" check.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_TEXT = HERE.parent.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
HYPER = dict(embedding_dim=64, hidden_size=512, num_layers=2, dropout=0.25, lr=2e-3, batch_size=64,
             seq_len=100, clip=5.0, lr_decay=0.5)


def conllu_text(path: str) -> str:
    """The raw sentences of a CoNLL-U treebank (its ``# text = ...`` lines), one per line."""
    prefix = "# text = "
    with open(path, encoding="utf-8") as f:
        return "".join(line[len(prefix):] for line in f if line.startswith(prefix))


def read_corpus(path: str) -> str:
    return conllu_text(path) if path.endswith(".conllu") else Path(path).read_text(encoding="utf-8")


def data(path: str):
    import numpy as np
    from rnnkit.data.text import TokenStreams
    from rnnkit.models.language_model.inputs import build_vocabulary, split_text
    text = read_corpus(path)
    train_text, val_text = split_text(text, 0.1, "char")
    vocab = build_vocabulary(train_text, "char")
    train = TokenStreams(vocab.encode_text(train_text), HYPER["batch_size"], HYPER["seq_len"], drop_last=False)
    val = TokenStreams(vocab.encode_text(val_text), HYPER["batch_size"], HYPER["seq_len"], drop_last=False)
    return vocab, train, val, np


def run_rnnkit(path: str, minutes: float, seed: int) -> list[dict]:
    from rnnkit import optim
    from rnnkit.losses import softmax_cross_entropy
    from rnnkit.models.language_model import LanguageModelConfig, LanguageModelNetwork
    vocab, train, val, np = data(path)
    h = HYPER
    model = LanguageModelNetwork(LanguageModelConfig(len(vocab), h["embedding_dim"], h["hidden_size"],
                                                     h["num_layers"], "lstm", h["dropout"]), vocab, seed=seed)
    opt, rng = optim.Adam(lr=h["lr"]), np.random.default_rng(seed)

    def train_step(k, carry):
        x, y = train.window(k)
        logits, state, cache = model.forward(x, carry, training=True, rng=rng)
        loss, dlogits = softmax_cross_entropy(logits, y)
        grads = model.backward(dlogits, None, cache)
        optim.clip_grad_norm(grads, h["clip"])
        opt.step(model.params, grads)
        return loss, state

    def evaluate():
        total = count = 0
        state = None
        for k in range(val.num_windows):
            x, y = val.window(k)
            logits, state, _ = model.forward(x, state, training=False)
            total += softmax_cross_entropy(logits, y, reduction="sum")[0]
            count += y.size
        return total / count

    def set_lr(lr):
        opt.lr = lr

    return time_loop(train_step, evaluate, set_lr, train.num_windows, minutes)


def run_cli(path: str, minutes: float) -> list[dict]:
    """``rnnkit train-lm TEXT --out MODEL --max-minutes N``, nothing else set; its history rows."""
    import csv
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "text.txt"
        text.write_text(read_corpus(path), encoding="utf-8")
        model = Path(tmp) / "model.safetensors"
        subprocess.run([sys.executable, "-m", "rnnkit", "train-lm", str(text), "--out", str(model),
                        "--max-minutes", str(minutes)], env=child_env(), check=True,
                       stdout=sys.stderr)
        with open(f"{model}.history.csv") as f:
            rows = list(csv.DictReader(f))
    return [{"minutes": float(r["minutes"]), "steps": int(r["step"]), "val_loss": float(r["val_loss"])} for r in rows]


def run_torch(path: str, minutes: float, seed: int) -> list[dict]:
    import torch
    vocab, train, val, np = data(path)
    h = HYPER
    torch.manual_seed(seed)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(len(vocab), h["embedding_dim"])
            self.lstm = torch.nn.LSTM(h["embedding_dim"], h["hidden_size"], h["num_layers"], batch_first=True,
                                      dropout=h["dropout"])
            self.drop = torch.nn.Dropout(h["dropout"])
            self.head = torch.nn.Linear(h["hidden_size"], len(vocab))

        def forward(self, x, state):
            out, state = self.lstm(self.embedding(x), state)
            return self.head(self.drop(out)), state

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=h["lr"])

    def train_step(k, carry):
        model.train()
        x, y = (torch.from_numpy(a) for a in train.window(k))
        logits, state = model(x, carry)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), h["clip"])
        opt.step()
        return loss.item(), tuple(s.detach() for s in state)

    @torch.no_grad()
    def evaluate():
        model.eval()
        total = count = 0
        state = None
        for k in range(val.num_windows):
            x, y = (torch.from_numpy(a) for a in val.window(k))
            logits, state = model(x, state)
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                       reduction="sum").item()
            count += y.numel()
        return total / count

    def set_lr(lr):
        for group in opt.param_groups:
            group["lr"] = lr

    return time_loop(train_step, evaluate, set_lr, train.num_windows, minutes)


def time_loop(train_step, evaluate, set_lr, windows: int, minutes: float) -> list[dict]:
    """Train until ``minutes`` of training time have passed, evaluating at every whole minute.

    The schedule is ``rnnkit train-lm``'s default (``TrainConfig.lr_decay``): an evaluation that does
    not beat the best so far halves the learning rate. Both sides run this same function.
    """
    rows, trained, step, carry, next_eval = [], 0.0, 0, None, 60.0
    losses, lr, best = [], HYPER["lr"], float("inf")
    while trained < minutes * 60:
        k = step % windows
        if k == 0:
            carry = None
        t0 = time.perf_counter()
        loss, carry = train_step(k, carry)
        trained += time.perf_counter() - t0
        losses.append(loss)
        step += 1
        if trained >= next_eval or trained >= minutes * 60:
            val_loss = evaluate()
            rows.append({"minutes": round(trained / 60, 3), "steps": step, "train_loss": sum(losses) / len(losses),
                         "val_loss": val_loss, "lr": lr})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            losses, next_eval = [], next_eval + 60.0
            if val_loss < best:
                best = val_loss
            else:
                lr *= HYPER["lr_decay"]
                set_lr(lr)
    return rows


def child_env() -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = "2"
    return env


def report(results: dict, minutes: float, out_dir: Path, name: str, corpus: str, cli: bool = False) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps({"hyperparameters": HYPER, "corpus": corpus, "cli": cli,
                                                       "results": results}, indent=1))
    lines = [f"# {corpus}: validation loss (nats/char) against training time", "",
             f"2-layer LSTM 512, embedding 64, dropout 0.25, Adam 2e-3, 64 x 100 windows, clip 5, "
             f"lr halved after each evaluation that does not improve; last 10% held out; {minutes:g} minutes of training each, 2 threads, "
             "evaluation time excluded." + (" rnnkit side: the command `rnnkit train-lm TEXT --out MODEL "
                                            f"--max-minutes {minutes:g}` with nothing else set (it evaluates "
                                            "once an epoch or every 200 steps, and at the end)." if cli else ""), "",
             "| minute | rnnkit val | PyTorch val | rnnkit steps | PyTorch steps |", "|---|---|---|---|---|"]
    # rows matched by whole minute (train-lm's own evaluations need not fall on every minute)
    by_minute = {impl: {round(r["minutes"]): r for r in rows} for impl, rows in results.items()}
    for minute in sorted(set().union(*by_minute.values())):
        a, b = by_minute.get("rnnkit", {}).get(minute, {}), by_minute.get("torch", {}).get(minute, {})
        lines.append(f"| {minute} | {a.get('val_loss', float('nan')):.4f} | {b.get('val_loss', float('nan')):.4f} "
                     f"| {a.get('steps', '')} | {b.get('steps', '')} |")
    (out_dir / f"{name}.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for impl, rows in results.items():
        ax.plot([r["minutes"] for r in rows], [r["val_loss"] for r in rows], marker=".", label=impl)
    ax.axhline(1.45, color="grey", linestyle=":", label="target 1.45")
    ax.set_xlabel("training minutes")
    ax.set_ylabel("validation loss (nats/char)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / f"{name}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", default=str(DEFAULT_TEXT), help="a text file, or a .conllu treebank "
                        "whose '# text' sentences are the text (default: tiny Shakespeare)")
    parser.add_argument("--name", default="lm_shakespeare", help="results file name (default: lm_shakespeare)")
    parser.add_argument("--minutes", type=float, default=30.0, help="training minutes per implementation")
    parser.add_argument("--impl", choices=["rnnkit", "torch"], help="run one side in this process")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default=str(HERE / "results"), help="results directory")
    parser.add_argument("--cli", action="store_true", help="rnnkit side: the train-lm command with its defaults")
    parser.add_argument("--report", action="store_true", help="only rewrite the table and plot from <name>.json")
    args = parser.parse_args()
    if args.report:
        saved = json.loads((Path(args.out) / f"{args.name}.json").read_text())
        minutes = round(max(r["minutes"] for rows in saved["results"].values() for r in rows))  # the run's budget
        report(saved["results"], minutes, Path(args.out), args.name, saved["corpus"], saved.get("cli", False))
        return 0
    if args.impl:
        if args.impl == "torch":
            import torch
            torch.set_num_threads(2)
        run = run_rnnkit if args.impl == "rnnkit" else run_torch
        print(json.dumps(run(args.text, args.minutes, args.seed)))
        return 0
    results = {}
    if args.cli:
        results["rnnkit"] = run_cli(args.text, args.minutes)
    for impl in ("torch",) if args.cli else ("rnnkit", "torch"):
        done = subprocess.run([sys.executable, __file__, "--impl", impl, "--text", args.text, "--minutes",
                               str(args.minutes), "--seed", str(args.seed)], env=child_env(), check=True,
                              stdout=subprocess.PIPE, text=True)
        results[impl] = json.loads(done.stdout.strip().splitlines()[-1])
    report(results, args.minutes, Path(args.out), args.name, Path(args.text).name, args.cli)
    print((Path(args.out) / f"{args.name}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
