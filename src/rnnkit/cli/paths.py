"""Checks of the paths a command was given, made before any work starts: minutes of training
should never end in "no such directory" at the first save."""
from __future__ import annotations

import os


class UsageError(ValueError):
    """The command line asks for something that cannot work (exit code 2)."""


def check_inputs(paths: list[str]) -> None:
    """Every path exists (a file, or a directory where a command reads folders)."""
    for path in paths:
        if not os.path.exists(path):
            raise UsageError(f"{path}: no such file or directory")


def check_output(out: str, inputs: list[str], resume: bool = False) -> None:
    """``out`` can be written: not empty, not a directory, in an existing writable directory, and
    not one of the inputs (a model written over its own training text destroys it); with
    ``resume``, its checkpoint exists."""
    if not out or not out.strip():
        raise UsageError("--out: the output path is empty")
    if os.path.isdir(out):
        raise UsageError(f"--out {out}: is a directory; give a file name such as {os.path.join(out, 'model.safetensors')}")
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise UsageError(f"--out {out}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise UsageError(f"--out {out}: the directory {directory} is not writable")
    for path in inputs:
        if os.path.exists(out) and os.path.exists(path) and os.path.samefile(out, path):
            raise UsageError(f"--out {out}: is also an input of this command; writing the model would destroy it")
    if resume and not os.path.exists(out + ".ckpt"):
        raise UsageError(f"--resume: there is no checkpoint {out}.ckpt to continue")


__all__ = ["UsageError", "check_inputs", "check_output"]
