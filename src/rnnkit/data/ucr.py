"""Reading UCR/UEA ``.ts`` files (sktime/aeon format): uni- or multivariate, equal or unequal length.

The format: ``#`` comment lines, then ``@key value`` header lines (``@problemName``,
``@dimensions``, ``@equalLength``, ``@classLabel true a b c``, ...), then ``@data`` and one case a
line: channels separated by ``:``, values by ``,``, the class label last. ``?`` (or ``NaN``) is a
missing value; trailing missing values shared by every channel of a case are padding and are cut.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from numpy import ndarray


@dataclass
class TimeSeriesDataset:
    """Cases of a ``.ts`` file: ``X[i]: (T_i, D)`` float64 (time first, channels last, as the
    classifier reads them), ``y: (N,)`` labels as strings (None without labels)."""

    X: list[ndarray]
    y: ndarray | None
    class_labels: list[str] = field(default_factory=list)
    problem_name: str = ""
    path: str = ""

    @property
    def lengths(self) -> ndarray:
        return np.array([len(x) for x in self.X])

    @property
    def num_channels(self) -> int:
        return self.X[0].shape[1] if self.X else 0

    def __len__(self) -> int:
        return len(self.X)


def _bool(value: str, where: str, key: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise ValueError(f"{where}: @{key} must be true or false, got {value.strip()!r}")
    return v == "true"


def _parse_value(text: str, where: str) -> float:
    t = text.strip()
    if t in ("?", "") or t.lower() == "nan":
        return math.nan
    try:
        return float(t)
    except ValueError:
        raise ValueError(f"{where}: {t[:30]!r} is not a number") from None


def load_ts(path: str | os.PathLike) -> TimeSeriesDataset:
    """Read a ``.ts`` file into a :class:`TimeSeriesDataset`.

    Raises:
        ValueError: naming the file and line, for a missing file, non-UTF-8 bytes, an unknown or
            malformed header, a case whose channel count, lengths, values or label are wrong, or a
            file without ``@data`` or cases. Time-stamped files (``@timeStamps true``) are refused.
    """
    path = os.fspath(path)
    header: dict[str, str] = {}
    X: list[ndarray] = []
    labels: list[str] = []
    in_data = False
    dims: int | None = None
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror})") from e
    with f:
        try:
            for number, line in enumerate(f, start=1):
                where = f"{path}, line {number}"
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if not in_data:
                    if not line.startswith("@"):
                        raise ValueError(f"{where}: expected a '@key value' header line or '@data' before "
                                         f"the cases, got {line[:40]!r}")
                    key, _, value = line[1:].partition(" ")
                    key = key.lower()
                    if key == "data":
                        in_data = True
                        class_label = header.get("classlabel", "false").split() or ["false"]
                        labelled = _bool(class_label[0], where, "classLabel")
                        declared = class_label[1:] if labelled else []
                        if header.get("timestamps") and _bool(header["timestamps"], where, "timeStamps"):
                            raise ValueError(f"{where}: time-stamped .ts files (@timeStamps true) are not supported")
                        if "dimensions" in header:
                            try:
                                dims = int(header["dimensions"])
                            except ValueError:
                                raise ValueError(f"{path}: @dimensions must be an integer, "
                                                 f"got {header['dimensions']!r}") from None
                        elif header.get("univariate") and _bool(header["univariate"], where, "univariate"):
                            dims = 1
                        continue
                    header[key] = value.strip()
                    continue
                x, label = _parse_case(line, where, labelled, dims)
                if dims is None:
                    dims = x.shape[1]                     # the first case fixes it when no header does
                if declared and label not in declared:
                    raise ValueError(f"{where}: class label {label!r} is not among the declared "
                                     f"@classLabel values {declared}")
                X.append(x)
                if labelled:
                    labels.append(label)
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not UTF-8 text ({e.reason})") from e
    if not in_data:
        raise ValueError(f"{path}: no '@data' line; not a .ts file")
    if not X:
        raise ValueError(f"{path}: no cases after '@data'")
    equal = header.get("equallength")
    if equal and _bool(equal, path, "equalLength") and len({len(x) for x in X}) > 1:
        raise ValueError(f"{path}: @equalLength true, but case lengths range from "
                         f"{min(len(x) for x in X)} to {max(len(x) for x in X)}")
    return TimeSeriesDataset(X, np.array(labels) if labelled else None, declared or sorted(set(labels)),
                             header.get("problemname", ""), path)


def _parse_case(line: str, where: str, labelled: bool, dims: int | None) -> tuple[ndarray, str | None]:
    fields = line.split(":")
    label = None
    if labelled:
        if len(fields) < 2:
            raise ValueError(f"{where}: expected channels and a class label separated by ':', got {line[:40]!r}")
        label = fields.pop().strip()
        if not label:
            raise ValueError(f"{where}: empty class label")
    if dims is not None and len(fields) != dims:
        raise ValueError(f"{where}: expected {dims} channel(s) separated by ':', got {len(fields)}")
    channels = [[_parse_value(v, where) for v in ch.split(",")] for ch in fields]
    n = {len(c) for c in channels}
    if len(n) > 1:
        raise ValueError(f"{where}: the channels of a case must have equal lengths, got {sorted(n)}")
    x = np.array(channels, dtype=np.float64).T            # (T, D): time first
    valid = ~np.isnan(x).all(axis=1)
    if not valid.any():
        raise ValueError(f"{where}: the case has no values")
    T = int(np.nonzero(valid)[0][-1]) + 1                 # cut trailing padding shared by all channels
    return x[:T], label


__all__ = ["TimeSeriesDataset", "load_ts"]
