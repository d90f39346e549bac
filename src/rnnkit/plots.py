"""Plots for training histories (needs matplotlib: ``pip install rnnkit[plot]``)."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def plot_history(history: list[dict], path: str | os.PathLike, ylabel: str = "loss") -> None:
    """Training and validation loss against training minutes, written to a PNG. Rows with a
    ``"model"`` key (an ensemble's networks) get a pair of lines per network against that
    network's own steps, so one network's last evaluation is not joined to the next one's first."""
    groups: dict = {}
    for row in history:
        groups.setdefault(row.get("model"), []).append(row)
    ensemble = len(groups) > 1 or None not in groups
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for k, (model, rows) in enumerate(groups.items()):
        x = [row["step" if ensemble else "minutes"] for row in rows]
        name = f" (network {model + 1})" if ensemble else ""
        color = plt.cm.tab10(k % 10)
        ax.plot(x, [row["train_loss"] for row in rows], label="train" + name, color=color, alpha=0.5,
                linestyle="--", marker=".")
        ax.plot(x, [row["val_loss"] for row in rows], label="validation" + name, color=color, marker=".")
    ax.set_xlabel("training steps of each network" if ensemble else "training time (minutes)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7 if len(groups) > 3 else 9)
    fig.tight_layout()
    _save(fig, path)


def plot_confusion_matrix(cm, labels: list, path: str | os.PathLike, title: str = "") -> None:
    """A confusion matrix (rows true class, columns predicted) as a PNG image with counts in the
    cells, shaded by each row's fraction so small classes read as well as large ones."""
    import numpy as np
    cm = np.asarray(cm)
    fraction = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    K = len(labels)
    size = min(12, 2.5 + 0.45 * K)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=100)
    ax.imshow(fraction, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(K), [str(v) for v in labels], rotation=45 if K > 6 else 0, ha="right" if K > 6 else "center")
    ax.set_yticks(range(K), [str(v) for v in labels])
    if K <= 30:
        for i in range(K):
            for j in range(K):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if fraction[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)


def plot_forecast(actual, predicted, path: str | os.PathLike, start: int = 0, labels: list[str] | None = None,
                  title: str = "", max_channels: int = 4) -> None:
    """A series and its forecasts, one panel per channel (the first ``max_channels``), as a PNG.

    Args:
        actual: (T,) or (T, D) observed values, drawn against steps 0 .. T - 1.
        predicted: (N,) or (N, D) forecasts of steps ``start`` .. ``start + N - 1`` (for example
            the one-step-ahead forecasts from every origin).
        labels: the D channel names.
    """
    import numpy as np
    actual = np.asarray(actual, dtype=float).reshape(len(actual), -1)
    predicted = np.asarray(predicted, dtype=float).reshape(len(predicted), -1)
    D = min(actual.shape[1], max_channels)
    fig, axes = plt.subplots(D, 1, figsize=(8, 2.2 + 1.8 * D), dpi=100, sharex=True, squeeze=False)
    steps = np.arange(start, start + len(predicted))
    for j, ax in enumerate(axes[:, 0]):
        ax.plot(np.arange(len(actual)), actual[:, j], color="black", linewidth=1, label="actual")
        ax.plot(steps, predicted[:, j], color="tab:red", linewidth=1.2, label="forecast")
        ax.set_ylabel(labels[j] if labels else f"channel {j}")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left")
    axes[-1, 0].set_xlabel("step")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: str | os.PathLike) -> None:
    """Write the figure atomically (a temporary file renamed onto the target)."""
    tmp = f"{os.fspath(path)}.tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
