"""Sequence-tagging benchmark: UD English EWT (UPOS), WNUT17 and wikigold (entity F1).

Runs (choose with --runs; each adds its row to benchmarks/results/tagging.json and the table in
tagging.md is rewritten from all rows):

  ewt-default   SequenceTagger().fit(train sentences, train tags): nothing set, so 10% of the
                training sentences are held out for early stopping; scored on dev and test.
  ewt-tuned     the settings chosen on the dev set (TUNED below), the dev set for early stopping
                and selection, --max-minutes of training counted in CPU time (clock="cpu").
  ewt-tuned-2layer, ewt-tuned-wide   two BiLSTM layers, or wider RNNs (char 100, sentence 200 per
                direction), with patience 5; of the tuned runs, the one with the best dev accuracy
                is the tuned result (marked in tagging.md).
  wnut17        defaults, the official dev set for early stopping, entity F1 on the test set.
  wikigold      defaults on a contiguous 70/10/20 split of the sentences (no official split;
                contiguous so most documents, and the names in them, stay on one side).

Timing: wall and CPU seconds of the whole fit, and per epoch. The machine is shared; the load
average and the busiest other processes at the start and end of each run are recorded, since
wall time on a busy machine overstates what the code needs. BLAS runs single-threaded
(OPENBLAS_NUM_THREADS=1 unless set): with other jobs on the two cores, multithreaded OpenBLAS
made a training step 8x slower here (threads spin-waiting for a core).

Usage:  nice -n 10 .venv/bin/python benchmarks/tagging.py --runs ewt-tuned ewt-default wnut17 wikigold
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import fcntl  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit.data.conll import read_conll  # noqa: E402
from rnnkit.data.conllu import read_conllu  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EWT = DATA / "ud_english_ewt"
WNUT = DATA / "ner_wnut17"
WIKIGOLD = DATA / "ner_wikigold" / "wikigold.conll.txt"
RESULTS = Path(__file__).resolve().parent / "results"

# Chosen on the EWT dev set (see CHOICE); the test set is scored for every run reported, never to choose.
TUNED = {"ewt-tuned": {"config": {}, "fit": {"batch_size": 32}},
         "ewt-tuned-2layer": {"config": {"num_layers": 2}, "fit": {"batch_size": 32, "patience": 5}},
         "ewt-tuned-wide": {"config": {"char_hidden_size": 100, "hidden_size": 200},
                            "fit": {"batch_size": 32, "patience": 5}}}
CHOICE = """How the settings were chosen (EWT dev accuracy, batch 32, same seed; runs made while other
jobs kept the machine's load average at 7-12, so they were compared by epoch, not by minute):

| setting | dev after 3 epochs | after 6 | best |
|---|---|---|---|
| dropout 0.33, word dropout alpha 0.25, cased words (the first defaults) | 93.94 | 94.15 | 94.41 (epoch 7; test 94.77, unknown words 75.4) |
| as first, word embeddings initialised N(0, 1) as in PyTorch | 91.32 after 2 | stopped | slower start, not affordable in the budget |
| lowercased words, word dropout alpha 1 | 94.35 | 94.84 | 95.07 at epoch 7, stopped there |
| lowercased words, word dropout alpha 1, dropout 0.5, weight average 0.999 | 94.33 | 94.93 | 95.17 at epoch 8, still rising when stopped |

The last row became the defaults. The gain is mostly on words unseen in training (9% of test
tokens), which the first defaults tagged at 75% because they leaned on memorised word vectors."""

TARGET = {"accuracy": 0.955, "cpu_minutes": 20}   # issue 6: EWT UPOS test accuracy in under 20 minutes
PYTORCH_REFERENCE = {"test": 0.9509, "dev": 0.9518, "minutes": 14, "seconds_per_epoch": 19}


def machine_load() -> dict:
    """Load average and the three busiest other processes, to qualify the timings."""
    load = os.getloadavg()
    try:
        out = subprocess.run(["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu"], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()[1:]
        others = [" ".join(line.split()[1:])[:90] for line in out
                  if line.split()[0] != str(os.getpid()) and "ps -eo" not in line][:3]
    except (OSError, subprocess.SubprocessError):
        others = []
    return {"loadavg": [round(x, 2) for x in load], "busiest_processes": others}


def genres(path: Path) -> list[str]:
    """The genre of each sentence of an EWT file, from its sent_id (weblog-, email-, answers- ...)."""
    return [m.group(1).split("-")[0] for m in re.finditer(r"^# sent_id = (\S+)", path.read_text("utf-8"), re.M)]


class Messages(logging.Handler):
    """The tagger's messages (logger "rnnkit"): printed, with the stops and epoch sizes kept."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.stops, self.per_epoch = [], []

    def emit(self, record):
        message = record.getMessage()
        print("   ", message, flush=True)
        if message.startswith("stopped ("):
            self.stops.append(message)
        found = re.search(r"([\d,]+) steps per epoch", message)
        if found:
            self.per_epoch.append(int(found.group(1).replace(",", "")))


def timed_fit(tagger, X, y, validation=None, **params) -> dict:
    """``tagger.set_params(**params).fit(X, y, validation)``, timed, its messages collected."""
    wall, cpu, before = time.perf_counter(), time.process_time(), machine_load()
    messages, logger = Messages(), logging.getLogger("rnnkit")
    level = logger.level
    logger.addHandler(messages)
    logger.setLevel(logging.INFO)
    try:
        tagger.set_params(verbose=False, **params).fit(X, y, validation)
    finally:
        logger.removeHandler(messages)
        logger.setLevel(level)
    stops, per_epoch = messages.stops, messages.per_epoch
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps = tagger.history_[-1]["step"] if tagger.history_ else 0
    epochs = round(steps / per_epoch[-1], 1) if per_epoch else len(tagger.history_)
    return {"wall_minutes": round(wall / 60, 2), "cpu_minutes": round(cpu / 60, 2), "epochs": epochs,
            "stopped": stops[-1] if stops else "",
            "wall_seconds_per_epoch": round(wall / max(epochs, 1), 1),
            "cpu_seconds_per_epoch": round(cpu / max(epochs, 1), 1),
            "train_minutes_in_history": tagger.history_[-1]["minutes"] if tagger.history_ else None,
            "load_start": before, "load_end": machine_load(),
            "history": [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
                        for row in tagger.history_]}


def score(tagger, sentences, tags) -> dict:
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in tagger.evaluate(sentences, tags).items()}


def run_ewt(name: str, args) -> dict:
    train_s, train_t = read_conllu(EWT / "en_ewt-ud-train.conllu")
    dev_s, dev_t = read_conllu(EWT / "en_ewt-ud-dev.conllu")
    test_s, test_t = read_conllu(EWT / "en_ewt-ud-test.conllu")
    if name == "ewt-default":
        tagger = rnnkit.SequenceTagger()
        row = timed_fit(tagger, train_s, train_t, seed=args.seed)
        setting = "SequenceTagger().fit(train) - nothing set (10% of train held out)"
    else:
        tuned = TUNED[name]
        tagger = rnnkit.SequenceTagger(**tuned["config"])
        row = timed_fit(tagger, train_s, train_t, (dev_s, dev_t), max_minutes=args.max_minutes, clock="cpu",
                        seed=args.seed, **tuned["fit"])
        changes = ", ".join(f"{k}={v}" for k, v in {**tuned["config"], **tuned["fit"]}.items())
        setting = f"defaults with {changes}; official dev; {args.max_minutes:g} CPU-minute budget"
    row.update(setting=setting, config=vars(tagger.config_), dev=score(tagger, dev_s, dev_t),
               test=score(tagger, test_s, test_t))
    pred = tagger.predict(test_s)
    by_genre: dict[str, list[int]] = {}
    for g, gold, guess in zip(genres(EWT / "en_ewt-ud-test.conllu"), test_t, pred):
        right, total = by_genre.setdefault(g, [0, 0])
        by_genre[g] = [right + sum(a == b for a, b in zip(gold, guess)), total + len(gold)]
    row["test_by_genre"] = {g: {"accuracy": round(r / n, 5), "tokens": n} for g, (r, n) in sorted(by_genre.items())}
    tagger.save(args.models / f"{run_key(name, args.seed)}.safetensors")
    return row


def run_wnut(args) -> dict:
    train_s, train_t = read_conll(WNUT / "wnut17train.conll")
    dev_s, dev_t = read_conll(WNUT / "emerging.dev.conll")
    test_s, test_t = read_conll(WNUT / "emerging.test.annotated")
    tagger = rnnkit.SequenceTagger()
    row = timed_fit(tagger, train_s, train_t, (dev_s, dev_t), seed=args.seed)
    row.update(setting="defaults, official dev for early stopping", config=vars(tagger.config_),
               dev=score(tagger, dev_s, dev_t), test=score(tagger, test_s, test_t))
    return row


def run_wikigold(args) -> dict:
    s, t = read_conll(WIKIGOLD)
    a, b = int(0.7 * len(s)), int(0.8 * len(s))
    tagger = rnnkit.SequenceTagger()
    row = timed_fit(tagger, s[:a], t[:a], (s[a:b], t[a:b]), seed=args.seed)
    row.update(setting=f"defaults; contiguous split of {len(s)} sentences: train [0, {a}), dev [{a}, {b}), "
                       f"test [{b}, {len(s)})", config=vars(tagger.config_),
               dev=score(tagger, s[a:b], t[a:b]), test=score(tagger, s[b:], t[b:]))
    return row


def run_key(name: str, seed: int) -> str:
    """The row of ``name`` run with ``seed`` in tagging.json: the bare name for seed 0."""
    return name if seed == 0 else f"{name}-seed{seed}"


def base_name(key: str) -> str:
    """The run name of a tagging.json key (``ewt-default-seed2`` and ``ewt-default (earlier run 1)``
    are ``ewt-default``)."""
    return re.sub(r"-seed\d+$", "", key.split(" (")[0])


def seed_summary(results: dict) -> list[str]:
    """One line per EWT run name: test accuracy of every seed run, and how many meet the target."""
    lines = []
    names = dict.fromkeys(base_name(k) for k in results if k.startswith("ewt"))
    for name in names:
        rows = [(k, r) for k, r in results.items() if base_name(k) == name]
        scores = ", ".join(f"{100 * r['test']['accuracy']:.2f} (seed {r.get('seed', 0)}"
                           f"{', earlier run' if '(earlier' in k else ''}, {r['cpu_minutes']} CPU min)" for k, r in rows)
        met = sum(r["test"]["accuracy"] >= TARGET["accuracy"] and r["cpu_minutes"] <= TARGET["cpu_minutes"]
                  for _, r in rows)
        accuracy = [r["test"]["accuracy"] for _, r in rows]
        lines.append(f"- {name}: test accuracy {scores}; mean {100 * sum(accuracy) / len(accuracy):.2f}, min "
                     f"{100 * min(accuracy):.2f}; {met} of {len(rows)} runs reach {100 * TARGET['accuracy']:g}% "
                     f"within {TARGET['cpu_minutes']} CPU minutes.")
    return lines


def write_table(results: dict) -> str:
    lines = ["# Sequence tagging benchmark", "",
             "Written by `benchmarks/tagging.py` from `tagging.json` (all numbers there, with the training "
             "histories). Accuracy is token accuracy (UPOS); F1 is entity-level, conlleval semantics.", "",
             "| run | setting | dev | test | epochs | wall min | CPU min | CPU s/epoch | wall s/epoch |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        metric = "f1" if "f1" in r["test"] else "accuracy"
        stop = r.get("stopped", "").split(" after")[0]
        lines.append(f"| {name} | {r['setting']}{'; ' + stop if stop else ''} | {metric} {100 * r['dev'][metric]:.2f} | "
                     f"{metric} {100 * r['test'][metric]:.2f} | {r['epochs']} | {r['wall_minutes']} | "
                     f"{r['cpu_minutes']} | {r['cpu_seconds_per_epoch']} | {r['wall_seconds_per_epoch']} |")
    lines += ["", "CPU and wall minutes cover the whole fit (vocabularies, training, one dev evaluation per "
                  "epoch); a CPU-minute budget counts the training steps only. Epochs are training steps over "
                  "steps per epoch (small sets evaluate every 300 steps, not every epoch)."]
    lines += [""] + seed_summary(results)
    tuned = {k: r for k, r in results.items() if k.startswith("ewt-tuned") and not r.get("seed")}
    if tuned:
        best = max(tuned, key=lambda k: tuned[k]["dev"]["accuracy"])
        lines += ["", f"Tuned result (the better seed-0 dev accuracy of the tuned runs): **{best}**, UPOS test "
                      f"accuracy **{100 * tuned[best]['test']['accuracy']:.2f}**."]
    default = [r for k, r in results.items() if base_name(k) == "ewt-default"]
    if default:
        per_epoch = [r["cpu_seconds_per_epoch"] for r in default]
        stretch = [r["wall_minutes"] / r["cpu_minutes"] for r in default]
        lines += ["", f"Time per epoch of the default model: {min(per_epoch)}-{max(per_epoch)} CPU seconds over "
                      f"{len(default)} runs (training plus the dev evaluation, single-threaded BLAS), against about "
                      f"{PYTORCH_REFERENCE['seconds_per_epoch']} s for the PyTorch reference: "
                      f"{min(per_epoch) / PYTORCH_REFERENCE['seconds_per_epoch']:.1f}-"
                      f"{max(per_epoch) / PYTORCH_REFERENCE['seconds_per_epoch']:.1f}x slower. On a quiet machine wall "
                      f"time equals CPU time here; during these runs other jobs (see the load notes) stretched the "
                      f"wall time {min(stretch):.1f}-{max(stretch):.1f}x."]
    lines += ["", f"PyTorch reference (issue 6, measured on this machine): BiLSTM + char BiLSTM, "
                  f"{PYTORCH_REFERENCE['test'] * 100:.2f} test / {PYTORCH_REFERENCE['dev'] * 100:.2f} dev after "
                  f"{PYTORCH_REFERENCE['minutes']} min, about {PYTORCH_REFERENCE['seconds_per_epoch']} s per epoch.", ""]
    for name, r in results.items():
        if "test_by_genre" in r:
            genre = ", ".join(f"{g} {100 * v['accuracy']:.2f}" for g, v in r["test_by_genre"].items())
            lines.append(f"- {name}, test accuracy by EWT genre: {genre}; unknown words "
                         f"{100 * (r['test']['oov_accuracy'] or 0):.2f} on {r['test']['oov_tokens']} tokens.")
        if r.get("note"):
            lines.append(f"- {name}: {r['note']}.")
        lines.append(f"- {name}: load average at start {r['load_start']['loadavg']}, at end "
                     f"{r['load_end']['loadavg']}; busiest other processes at start: "
                     f"{'; '.join(r['load_start']['busiest_processes']) or 'none'}.")
    lines += ["", CHOICE]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = ["ewt-tuned", "ewt-tuned-2layer", "ewt-tuned-wide", "ewt-default", "wnut17", "wikigold"]
    p.add_argument("--runs", nargs="+", default=names, choices=names, help="which runs (default: all)")
    # 16, not 20: the budget counts training steps only, and the whole fit (vocabularies, one dev
    # evaluation per epoch) must stay under the 20 minutes (17.1 CPU and 17.3 wall minutes)
    p.add_argument("--max-minutes", type=float, default=16.0,
                   help="training budget of the tuned runs in CPU minutes (default: 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fit (split, initialisation, batches; default 0)")
    p.add_argument("--results", type=Path, default=RESULTS, help="directory for tagging.json and tagging.md")
    p.add_argument("--models", type=Path, default=Path("/tmp"), help="where the EWT models are saved (default: /tmp)")
    p.add_argument("--table-only", action="store_true", help="rewrite tagging.md from tagging.json, run nothing")
    args = p.parse_args(argv)
    if args.table_only:
        results = json.loads((args.results / "tagging.json").read_text())
        (args.results / "tagging.md").write_text(write_table(results))
        return 0
    if not DATA.exists():
        print(f"{DATA} is not there; the benchmark needs the shared data sets", file=sys.stderr)
        return 2
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / "tagging.json"
    for name in args.runs:
        print(f"== {name}", flush=True)
        row = run_ewt(name, args) if name.startswith("ewt") else run_wnut(args) if name == "wnut17" \
            else run_wikigold(args)
        with open(args.results / ".tagging.lock", "w") as lock:   # runs in parallel processes share the file
            fcntl.flock(lock, fcntl.LOCK_EX)
            results = json.loads(path.read_text()) if path.exists() else {}
            key = run_key(name, args.seed)
            if key in results:   # a repeated run keeps the earlier row beside it
                earlier = sum(k.startswith(key + " (earlier run") for k in results) + 1
                results[f"{key} (earlier run {earlier})"] = results.pop(key)
            results[key] = {"seed": args.seed, **row}
            path.write_text(json.dumps(results, indent=1) + "\n")
            (args.results / "tagging.md").write_text(write_table(results))
        print(json.dumps({k: v for k, v in row.items() if k not in ("history",)}, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
