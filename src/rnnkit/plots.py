"""Plots for training histories (needs matplotlib: ``pip install rnnkit[plot]``)."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def plot_history(history: list[dict], path: str | os.PathLike) -> None:
    """Training and validation loss against training minutes, written to a PNG."""
    minutes = [row["minutes"] for row in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(minutes, [row["train_loss"] for row in history], label="train", marker=".")
    ax.plot(minutes, [row["val_loss"] for row in history], label="validation", marker=".")
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("loss (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = f"{os.fspath(path)}.tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
