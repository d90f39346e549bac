"""The training loop shared by every task model: steps, evaluation, checkpoints, budgets.

A *task* knows its data and its loss; the :class:`Trainer` knows everything else (optimizer,
clipping, evaluation cadence, learning-rate decay on plateaus, early stopping, time and step
budgets, a progress bar, the history file, atomic checkpoints and exact resumption).

A task implements::

    steps_per_epoch: int
    train_step(step, rng) -> (loss, grads, tokens)   # mean loss of the batch, grads of params
    evaluate() -> dict                               # must hold "loss" (lower is better) and
                                                     #   TrainConfig.monitor if that is another key
    state_arrays() -> dict[str, ndarray]             # what must be saved to resume (carried
    load_state_arrays(arrays) -> None                #   hidden states, ...); {} if none
    loss_label: str                                  # optional: the loss plot's axis label

Batch ``step`` must be a pure function of ``step`` and ``rng``, so a run resumed from a checkpoint
replays exactly what an uninterrupted run would have done.
"""
from __future__ import annotations

import contextlib
import csv
import io as _io
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy import ndarray

from . import optim
from .io import atomic_write_text, load_model_file, save_model_file
from ._types import Grads, Params

OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad}


@dataclass
class TrainConfig:
    """How to train (stored in checkpoints; every field has a default that works)."""

    lr: float = 2e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    clip: float = 5.0                 # max global gradient norm; 0 disables clipping
    lr_decay: float = 0.5             # lr *= lr_decay when an evaluation does not improve
    patience: int = 3                 # stop after this many evaluations without improvement
    eval_every: int | None = None     # steps between evaluations (None: once an epoch, at most 200)
    max_steps: int | None = None
    max_epochs: int | None = None
    max_minutes: float | None = None
    clock: str = "wall"               # what max_minutes and the history's minutes count: "wall" seconds, or
                                      #   "cpu" seconds of this process (fair budgets on a shared machine)
    seed: int = 0
    progress: bool = True
    monitor: str = "loss"             # the evaluate() key that selects the best model, decays the lr, stops
    mode: str = "min"                 # "min": lower monitor is better (a loss); "max": higher (an accuracy)
    min_delta: float = 0.0            # an evaluation improves only if it beats the best by more than this
    average: float = 0.0              # > 0: evaluate and keep an exponential moving average of the weights
                                      #   with this decay per step (Polyak averaging); 0: the weights as trained

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig: optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig: lr must be > 0, got {self.lr}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"TrainConfig: lr_decay must lie in (0, 1], got {self.lr_decay}")
        for name in ("max_steps", "max_epochs", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"TrainConfig: {name} must be >= 1 or None, got {value}")
        if not 0.0 <= self.average < 1.0:
            raise ValueError(f"TrainConfig: average must lie in [0, 1), got {self.average}")
        if not self.min_delta >= 0:
            raise ValueError(f"TrainConfig: min_delta must be >= 0, got {self.min_delta}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"TrainConfig: mode must be 'min' or 'max', got {self.mode!r}")
        if self.clock not in ("wall", "cpu"):
            raise ValueError(f"TrainConfig: clock must be 'wall' or 'cpu', got {self.clock!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"TrainConfig: max_minutes must be > 0, got {self.max_minutes}")


class Task(Protocol):
    steps_per_epoch: int

    def train_step(self, step: int, rng: np.random.Generator) -> tuple[float, Grads, int]: ...

    def evaluate(self) -> dict[str, float]: ...

    def state_arrays(self) -> dict[str, ndarray]: ...

    def load_state_arrays(self, arrays: dict[str, ndarray]) -> None: ...


@dataclass
class TrainState:
    """Everything besides arrays that a checkpoint must hold to resume exactly."""

    step: int = 0
    tokens: int = 0
    elapsed: float = 0.0              # training seconds, evaluation excluded
    best_loss: float = math.inf       # best monitored value, negated in mode "max" so lower is better
    bad_evals: int = 0
    lr: float = 0.0
    running_loss: float = 0.0         # sum of batch losses since the last evaluation
    running_steps: int = 0
    rng: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    stopped: str = ""


class Trainer:
    """Trains ``params`` (a model's flat parameter dict) on ``task``.

    Args:
        params: the model's parameters, updated in place.
        task: see the module docstring.
        config: a :class:`TrainConfig`.
        save_model: ``save_model(path)`` writes the model file; called whenever validation improves.
        out: the model file path. Beside it go ``<out>.ckpt`` (checkpoint), ``<out>.history.csv``
            and ``<out>.loss.png``. None trains without writing anything.
        describe: metadata stored in checkpoints so a resume can check it continues the same run.
        log: where one-line progress messages go (the progress bar goes to stderr).
        on_evaluate: called with each history row after it is logged (the demo prints samples).
    """

    def __init__(self, params: Params, task: Task, config: TrainConfig,
                 save_model: Callable[[str], None] | None = None, out: str | os.PathLike | None = None,
                 describe: dict | None = None, log: Callable[[str], None] = print,
                 on_evaluate: Callable[[dict], None] | None = None):
        self.params, self.task, self.config, self.on_evaluate = params, task, config, on_evaluate
        self.save_model, self.out, self.describe, self.log = save_model, out and os.fspath(out), describe or {}, log
        self.optimizer = OPTIMIZERS[config.optimizer](lr=config.lr, weight_decay=config.weight_decay)
        self.best: Params = {k: v.copy() for k, v in params.items()}
        self.average: Params | None = {k: v.copy() for k, v in params.items()} if config.average else None
        self.state = TrainState(lr=config.lr)
        self._said_no_plots = False
        self.rng = np.random.default_rng(config.seed)
        steps_per_epoch = max(1, task.steps_per_epoch)
        self.eval_every = config.eval_every or min(steps_per_epoch, 200)
        self.max_steps = config.max_steps
        if config.max_epochs is not None:
            epoch_steps = config.max_epochs * steps_per_epoch
            self.max_steps = epoch_steps if self.max_steps is None else min(self.max_steps, epoch_steps)

    # -- paths -------------------------------------------------------------------------------
    def _path(self, suffix: str) -> str | None:
        return None if self.out is None else self.out + suffix

    @property
    def checkpoint_path(self) -> str | None:
        return self._path(".ckpt")

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """Write everything needed to resume, atomically (an interrupted write keeps the old file)."""
        if self.checkpoint_path is None:
            return
        self.state.rng = self.rng.bit_generator.state
        arrays = {**{f"model.{k}": v for k, v in self.params.items()},
                  **{f"best.{k}": v for k, v in self.best.items()},
                  **{f"average.{k}": v for k, v in (self.average or {}).items()},
                  **{f"optim.{k}": v for k, v in self.optimizer.state_dict().items()},
                  **{f"task.{k}": v for k, v in self.task.state_arrays().items()}}
        metadata = {"kind": "checkpoint", "describe": self.describe, "train_config": asdict(self.config),
                    "train_state": asdict(self.state)}
        save_model_file(self.checkpoint_path, arrays, metadata)

    def resume(self) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` for the same run."""
        path = self.checkpoint_path
        if path is None or not os.path.exists(path):
            raise FileNotFoundError(f"resume: no checkpoint at {path}")
        arrays, metadata = load_model_file(path)
        if metadata.get("kind") != "checkpoint":
            raise ValueError(f"resume: {path} is not a training checkpoint")
        if metadata.get("describe") != _jsonable(self.describe):
            raise ValueError(f"resume: {path} was written for a different model or data "
                             f"({metadata.get('describe')}); start a new run or use the same settings")

        def part(prefix):
            return {k[len(prefix) + 1:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}

        model, best = part("model"), part("best")
        if set(model) != set(self.params):
            raise ValueError(f"resume: {path} holds different parameters than this model")
        for k, v in model.items():
            self.params[k][...] = v
        self.best = best
        if self.average is not None and set(part("average")) == set(self.params):
            self.average = part("average")
        self.optimizer.load_state_dict(part("optim"))
        self.task.load_state_arrays(part("task"))
        self.state = TrainState(**metadata["train_state"])
        self.rng.bit_generator.state = self.state.rng
        self.log(f"resumed from {path} at step {self.state.step} ({self.state.elapsed / 60:.1f} min trained)")

    # -- the loop ----------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> list[dict]:
        """Train until a budget runs out or validation stops improving; leaves the best parameters
        in ``params`` (and in the model file) and returns the history (one dict per evaluation)."""
        if resume:
            self.resume()
            self.state.stopped = ""  # the budgets given now decide when to stop
        cfg, st = self.config, self.state
        progress = _progress_bar(cfg.progress, self.max_steps, st.step)
        interrupted = threading.Event()
        try:
            with _deferred_interrupt(interrupted):
                self._loop(progress, interrupted)
        finally:
            if progress is not None:
                progress.close()
        if st.running_steps or not st.history:
            self._evaluate(final=True)
        else:
            self.save_checkpoint()
        for k, v in self.best.items():
            self.params[k][...] = v
        self.log(f"stopped ({st.stopped}) after {st.step} steps, {st.elapsed / 60:.1f} min; "
                 f"best validation {self.config.monitor} {self._signed(st.best_loss):.4f}")
        return st.history

    def _loop(self, progress, interrupted: threading.Event) -> None:
        cfg, st = self.config, self.state
        while not st.stopped:
            if interrupted.is_set():
                st.stopped = "interrupted"
                self.log("interrupted: saving a checkpoint and the best model so far")
                break
            if self.max_steps is not None and st.step >= self.max_steps:
                st.stopped = "step budget"
                break
            if cfg.max_minutes is not None and st.elapsed >= cfg.max_minutes * 60:
                st.stopped = "time budget"
                break
            clock = time.process_time if cfg.clock == "cpu" else time.perf_counter
            t0 = clock()
            self.optimizer.lr = st.lr
            loss, grads, tokens = self.task.train_step(st.step, self.rng)
            if not math.isfinite(loss):
                raise FloatingPointError(f"training diverged at step {st.step}: loss is {loss}; "
                                         f"try a lower --lr (now {st.lr:g})")
            if cfg.clip:
                optim.clip_grad_norm(grads, cfg.clip)
            self.optimizer.step(self.params, grads)
            if self.average is not None:
                # TensorFlow's ExponentialMovingAverage warm-up: early steps do not drag the
                # initial weights along for thousands of steps
                decay = min(cfg.average, (1 + st.step) / (10 + st.step))
                for k, v in self.params.items():
                    a = self.average[k]
                    a += (1 - decay) * (v - a)
            dt = clock() - t0
            st.step, st.tokens, st.elapsed = st.step + 1, st.tokens + tokens, st.elapsed + dt
            st.running_loss, st.running_steps = st.running_loss + loss, st.running_steps + 1
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens / max(dt, 1e-9):,.0f}",
                                     min=f"{st.elapsed / 60:.1f}", refresh=False)
            if st.step % self.eval_every == 0:
                self._evaluate()

    def _evaluate(self, final: bool = False) -> None:
        """Log a history row, keep the best parameters, decay the lr or stop on a plateau.
        The ``final`` evaluation at a stop off the evaluation grid changes neither the lr nor the
        patience count, so a run resumed from there follows the uninterrupted run exactly."""
        st, cfg = self.state, self.config
        trained = self._swap_average_in()
        metrics = self.task.evaluate()
        row = {"step": st.step, "tokens": st.tokens, "minutes": round(st.elapsed / 60, 4),
               "train_loss": st.running_loss / max(st.running_steps, 1),
               **{f"val_{k}": v for k, v in metrics.items()}, "lr": st.lr}
        st.history.append(row)
        st.running_loss, st.running_steps = 0.0, 0
        if cfg.monitor not in metrics:
            raise ValueError(f"TrainConfig.monitor is {cfg.monitor!r}, but the task's evaluation gives only "
                             f"{sorted(metrics)}")
        score = self._signed(metrics[cfg.monitor])
        if score < st.best_loss - cfg.min_delta:
            st.best_loss, st.bad_evals = score, 0
            self.best = {k: v.copy() for k, v in self.params.items()}
            if self.save_model and self.out:
                self.save_model(self.out)
        elif not final:
            st.bad_evals += 1
            st.lr *= cfg.lr_decay
            if st.bad_evals >= cfg.patience:
                st.stopped = "no improvement"
        self._swap_average_out(trained)
        self.log(_format_row(row))
        if self.on_evaluate is not None:
            self.on_evaluate(row)
        self.write_history()
        self.save_checkpoint()

    def _swap_average_in(self) -> Params | None:
        """With ``average``, put the averaged weights in ``params`` (evaluated, kept as best, saved)
        and return a copy of the trained ones; else None."""
        if self.average is None:
            return None
        trained = {k: v.copy() for k, v in self.params.items()}
        for k, v in self.average.items():
            self.params[k][...] = v
        return trained

    def _swap_average_out(self, trained: Params | None) -> None:
        if trained is not None:
            for k, v in trained.items():
                self.params[k][...] = v

    def _signed(self, value: float) -> float:
        """The monitored value as lower-is-better (negated in mode "max"), and back."""
        return -value if self.config.mode == "max" else value

    def write_history(self) -> None:
        if self.out is None or not self.state.history:
            return
        atomic_write_text(self._path(".history.csv"), history_csv(self.state.history))
        try:
            from .plots import plot_history
        except ImportError:
            if not self._said_no_plots:
                self.log(f"note: no {self._path('.loss.png')} (plots need matplotlib: pip install 'rnnkit[plot]')")
                self._said_no_plots = True
            return
        plot_history(self.state.history, self._path(".loss.png"), getattr(self.task, "loss_label", "loss"))


@contextlib.contextmanager
def _deferred_interrupt(flag: threading.Event):
    """The first Ctrl-C sets ``flag`` (the loop stops after the current step and saves); a second
    one interrupts at once. Only the main thread can take signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def history_csv(history: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in history for k in row))
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def _format_row(row: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())


def _progress_bar(enabled: bool, total: int | None, initial: int):
    """A tqdm bar on stderr, only when stderr is a terminal: redirected to a log, a bar writes a
    carriage-return update per step into it."""
    if not enabled or not _is_terminal(sys.stderr):
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=False, file=sys.stderr)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):      # a closed or replaced stream
        return False


def _jsonable(value):
    """What a value looks like after a JSON round trip (tuples become lists)."""
    import json
    return json.loads(json.dumps(value))
