"""CSV time series: one row per time step, one column per channel, errors naming file and line.

Accepted::

    date,temperature,load          <- an optional header (detected: see ``header``)
    2024-01-01,3.5,1021            <- a time column (detected by name or by holding dates) is
    2024-01-02,4.1,998                not a channel; with ``sort_by_time`` it orders the rows

Cells are split by Python's ``csv`` module (quoted cells work); the delimiter is ``,``, ``;`` or a
tab, whichever the first line holds most of. Blank lines and lines starting with ``#`` are
skipped. Missing cells (empty, ``NA``, ``N/A``, ``NaN``, ``null``, ``None``, ``?``) are an error
naming the file, line and column unless ``missing`` says how to fill them.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy import ndarray

from .files import read_text

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
TIME_NAMES = frozenset({"date", "time", "datetime", "timestamp", "year", "month", "week", "day", "ds",
                        "period", "t"})
MISSING_POLICIES = ("error", "interpolate", "ffill")


@dataclass
class CSVSeries:
    """A series read from a CSV file.

    Attributes:
        values: (T, D) float64 values, one column per selected channel, in time order.
        columns: the D channel names (``"column 2"`` style names for a file without header).
        times: the T cells of the time column as written, or None without one.
        path: the file read.
    """

    values: ndarray
    columns: list[str]
    times: list[str] | None
    path: str


def read_csv_series(path: str | os.PathLike, columns: list[str | int] | None = None,
                    time_column: str | int | None = "auto", header: bool | str = "auto",
                    sort_by_time: bool = False, missing: str = "error",
                    delimiter: str | None = None) -> CSVSeries:
    """Read a time series from a CSV file.

    Args:
        path: the file (UTF-8).
        columns: channels to keep, by header name or 0-based index (all numeric columns except the
            time column when None).
        time_column: the column holding time stamps, by name or index; ``"auto"`` takes a column
            named date/time/datetime/timestamp/year/month/week/day/ds/period/t (any case) or else
            the first column if it holds dates rather than numbers; None means no time column.
        header: True, False, or ``"auto"``: the first line is a header when one of its cells is
            neither a number, a missing marker nor a date.
        sort_by_time: order the rows by the time column (numbers, or ISO dates such as
            ``2024-01-31`` or ``2024-01-31 12:00``) instead of file order; repeated times are an error.
        missing: ``"error"``, ``"interpolate"`` (linear in row order; the ends take the nearest
            value) or ``"ffill"`` (the previous value; a leading gap takes the first value).
        delimiter: the cell separator (detected when None).

    Raises:
        ValueError: naming the file and line (and column) of the first malformed cell or row.
    """
    path = os.fspath(path)
    if missing not in MISSING_POLICIES:
        raise ValueError(f"read_csv_series: missing must be one of {MISSING_POLICIES}, got {missing!r}")
    rows = _rows(path, read_text(path), delimiter)
    if not rows:
        raise ValueError(f"{path}: no data (the file is empty or holds only blank and comment lines)")
    width = len(rows[0][1])
    if header == "auto":
        header = any(not (_is_number(c) or c.strip().lower() in MISSING or _parse_time(c) is not None)
                     for c in rows[0][1])
    names = [c.strip() for c in rows[0][1]] if header else [f"column {j}" for j in range(width)]
    data = rows[1:] if header else rows
    if not data:
        raise ValueError(f"{path}: the header (line {rows[0][0]}) is followed by no data rows")
    for line, cells in data:
        if len(cells) != width:
            raise ValueError(f"{path}:{line}: expected {width} cells like line {rows[0][0]}, got {len(cells)}")

    t = _time_index(path, names, data, time_column, bool(header))
    if columns is None:
        chosen = [j for j in range(width) if j != t and not _all_text(data, j)]
        if not chosen:
            raise ValueError(f"{path}: no numeric columns (columns are {names})")
    else:
        chosen = [_column_index(path, names, c) for c in columns]
        if t is not None and t in chosen:
            raise ValueError(f"{path}: column {names[t]!r} is the time column; it cannot also be a channel")

    values = np.empty((len(data), len(chosen)))
    for i, (line, cells) in enumerate(data):
        for k, j in enumerate(chosen):
            values[i, k] = _number(path, line, names[j], j, cells[j], missing)
    times = None if t is None else [cells[t].strip() for _, cells in data]
    if sort_by_time:
        if times is None:
            raise ValueError(f"{path}: sort_by_time needs a time column, and none was found or given")
        order = _time_order(path, data, t)
        values, times = values[order], [times[i] for i in order]
    if missing != "error":
        values = _fill(path, [names[j] for j in chosen], values, missing)
    return CSVSeries(values, [names[j] for j in chosen], times, path)


def _rows(path: str, text: str, delimiter: str | None) -> list[tuple[int, list[str]]]:
    """(line number, cells) for every non-blank, non-comment line."""
    lines = text.lstrip("\ufeff").splitlines()
    kept = [(n + 1, s) for n, s in enumerate(lines) if s.strip() and not s.lstrip().startswith("#")]
    if not kept:
        return []
    if delimiter is None:
        first = kept[0][1]
        delimiter = max((",", ";", "\t"), key=first.count)
    try:
        cells = list(csv.reader([s for _, s in kept], delimiter=delimiter))
    except csv.Error as e:
        raise ValueError(f"{path}: malformed CSV ({e})") from e
    return [(n, c) for (n, _), c in zip(kept, cells)]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.strip().lower() not in MISSING  # "nan" parses, but it marks a missing value


def _parse_time(cell: str):
    """A sortable key for a time cell (a float or a datetime), or None if it is neither."""
    s = cell.strip()
    try:
        return float(s)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(s.replace("/", "-").replace("Z", "+00:00"))
    except ValueError:
        return None


def _all_text(data, j: int) -> bool:
    """True when column j holds no number at all (a label or id column, not a channel)."""
    return not any(_is_number(cells[j]) for _, cells in data)


def _column_index(path: str, names: list[str], column: str | int) -> int:
    if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
        if not 0 <= column < len(names):
            raise ValueError(f"{path}: column index {column} is out of range; the file has {len(names)} columns")
        return int(column)
    if isinstance(column, str) and column in names:
        return names.index(column)
    raise ValueError(f"{path}: no column {column!r}; columns are {names}")


def _time_index(path: str, names: list[str], data, time_column, has_header: bool) -> int | None:
    if time_column is None:
        return None
    if time_column != "auto":
        return _column_index(path, names, time_column)
    if has_header:
        for j, name in enumerate(names):
            if name.lower() in TIME_NAMES:
                return j
    first = data[0][1][0]
    if not _is_number(first) and _parse_time(first) is not None:
        return 0  # a first column of dates, with or without a header
    return None


def _number(path: str, line: int, name: str, j: int, cell: str, missing: str) -> float:
    s = cell.strip()
    if s.lower() in MISSING:
        if missing == "error":
            raise ValueError(f"{path}:{line}: missing value in column {name!r} (column {j + 1}); "
                             "fill it, or pass missing='interpolate' or 'ffill'")
        return math.nan
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"{path}:{line}: column {name!r} (column {j + 1}): expected a number, "
                         f"got {cell!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}:{line}: column {name!r} (column {j + 1}): expected a finite number, got {cell!r}")
    return value


def _time_order(path: str, data, t: int) -> ndarray:
    keys = []
    for line, cells in data:
        key = _parse_time(cells[t])
        if key is None:
            raise ValueError(f"{path}:{line}: time column (column {t + 1}): expected a number or an ISO date "
                             f"such as 2024-01-31, got {cells[t]!r}")
        keys.append((line, key))
    kinds = {type(k) for _, k in keys}
    if len(kinds) > 1:
        raise ValueError(f"{path}: the time column mixes numbers and dates")
    try:
        order = sorted(range(len(keys)), key=lambda i: keys[i][1])
    except TypeError as e:  # dates with and without a time zone do not compare
        raise ValueError(f"{path}: time stamps cannot be ordered ({e})") from None
    for a, b in zip(order, order[1:]):
        if keys[a][1] == keys[b][1]:
            raise ValueError(f"{path}: lines {keys[a][0]} and {keys[b][0]} have the same time {data[a][1][t]!r}")
    return np.array(order)


def _fill(path: str, names: list[str], values: ndarray, how: str) -> ndarray:
    """Fill NaN per column: linearly between neighbours or with the previous value."""
    values = values.copy()
    rows = np.arange(len(values))
    for name, column in zip(names, values.T):
        known = ~np.isnan(column)
        if known.all():
            continue
        if not known.any():
            raise ValueError(f"{path}: column {name!r} holds no values at all, so there is nothing to fill from")
        if how == "interpolate":
            column[~known] = np.interp(rows[~known], rows[known], column[known])
        else:
            last = np.maximum.accumulate(np.where(known, rows, -1))
            column[:] = np.where(last >= 0, column[np.maximum(last, 0)], column[known][0])
    return values


__all__ = ["CSVSeries", "read_csv_series", "MISSING"]
