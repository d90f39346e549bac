"""Model files: safetensors with a JSON metadata blob, written atomically, never pickle.

File layout (plain safetensors, readable by any safetensors reader)::

    8 bytes     little-endian uint64 N: length of the JSON header
    N bytes     JSON header: one entry per array ({"dtype", "shape", "data_offsets"})
                plus "__metadata__", a str -> str map that rnnkit fills with
                    "format":          "rnnkit"   (the marker :func:`load_model_file` checks)
                    "format_version":  "1"        (FORMAT_VERSION; newer files are refused)
                    "rnnkit_version":  "0.1.0"    (informational: the writer's version)
                    "metadata":        JSON text of the caller's metadata dict
                                       (config, vocabulary, training state, ...)
    the rest    raw little-endian array bytes, C order

Array names are the flat dotted parameter names of the model (``"encoder.layers.0.fwd.Wh"``).
Loading never executes code from the file: the header is JSON and the data is raw bytes.

Writes are atomic (:func:`atomic_write_bytes`): the bytes go to a temporary file in the target's
directory, are flushed and fsync'ed, and the temporary file is renamed onto the target with
:func:`os.replace`. A crash or an exception mid-write leaves the previous file untouched and no
temporary file behind.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import secrets
import struct
from typing import Any

import numpy as np
from numpy import ndarray
from safetensors import SafetensorError
from safetensors.numpy import load, save

FORMAT = "rnnkit"
"""The value of ``__metadata__["format"]`` in every file rnnkit writes."""

FORMAT_VERSION = 1
"""The layout version written; files with a larger ``format_version`` are refused on load."""

PathLike = str | os.PathLike

# numpy dtypes that safetensors stores and reads back losslessly as numpy arrays.
_DTYPES = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
})
_HEADER_LIMIT = 100_000_000  # safetensors' own cap on the JSON header size, in bytes


class ModelFileError(ValueError):
    """A model file is missing, unreadable, corrupt, foreign or from a newer rnnkit."""


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically.

    Writes to a temporary file in the same directory (so the rename cannot cross file systems),
    flushes and fsyncs it, then :func:`os.replace` s it onto ``path``. On any failure the
    temporary file is removed and the previous content of ``path``, if any, is untouched.
    The new file gets the usual permissions (0o666 minus the umask).

    Args:
        path: the file to write; its directory must exist.
        data: the complete new content.
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for attempt in range(100):
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # a leftover or a concurrent writer picked the same name
            if attempt == 99:
                raise
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically (see :func:`atomic_write_bytes`).

    Newlines are written as given (no platform translation).
    """
    atomic_write_bytes(path, text.encode(encoding))


def _fsync_directory(directory: str) -> None:
    """Persist the rename itself; best effort (not possible on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rnnkit_version() -> str:
    try:
        return importlib.metadata.version("rnnkit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _json_default(value: Any) -> Any:
    """Let metadata hold numpy scalars and small arrays (e.g. a float32 loss)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def save_model_file(path: PathLike, arrays: dict[str, ndarray], metadata: dict[str, Any]) -> None:
    """Write arrays and metadata to a safetensors model file, atomically.

    Args:
        path: the file to write (conventionally ``*.safetensors``); its directory must exist.
        arrays: flat dotted names -> arrays of a numeric or bool dtype, any shape (0-d too).
            Dtypes are kept; non-contiguous arrays are copied to C order.
        metadata: any JSON-serialisable dict (config, vocabulary, training state). numpy
            scalars and arrays inside it are stored as Python numbers and lists. As in JSON,
            tuples come back as lists and non-str keys as str; NaN and infinity survive.

    Raises:
        ValueError: an array name, dtype or the metadata cannot be stored.
        OSError: the file cannot be written (the previous file, if any, is left intact).
    """
    if not isinstance(arrays, dict):
        raise ValueError(f"save_model_file: expected arrays as a dict, got {type(arrays).__name__}")
    if not isinstance(metadata, dict):
        raise ValueError(f"save_model_file: expected metadata as a dict, "
                         f"got {type(metadata).__name__}")
    tensors = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key or key == "__metadata__":
            raise ValueError(f"save_model_file: array names must be non-empty str other than "
                             f"'__metadata__', got {key!r}")
        a = np.asarray(value)
        if a.dtype.name not in _DTYPES:
            raise ValueError(f"save_model_file: array {key!r} has dtype {a.dtype}, expected one "
                             f"of {', '.join(sorted(_DTYPES))}")
        # not np.ascontiguousarray: it turns 0-d arrays into shape (1,)
        tensors[key] = a if a.flags.c_contiguous else a.copy(order="C")
    try:
        blob = json.dumps(metadata, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"save_model_file: metadata is not JSON-serialisable: {e}") from e
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "rnnkit_version": _rnnkit_version(),
        "metadata": blob,
    }
    atomic_write_bytes(path, save(tensors, metadata=header))


def _read_header(path: str, data: bytes) -> dict[str, Any]:
    """Parse and check the safetensors header; return the caller's metadata dict."""
    def fail(problem: str) -> ModelFileError:
        return ModelFileError(f"{path}: {problem}")

    if len(data) < 8:
        raise fail(f"not a model file: {len(data)} bytes, too short for a safetensors header "
                   f"(truncated or empty file?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _HEADER_LIMIT:
        raise fail(f"not a safetensors file: header length field says {n} bytes")
    if 8 + n > len(data):
        raise fail(f"truncated file: header needs {8 + n} bytes, file has {len(data)}")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise fail(f"corrupt header: not valid JSON ({e})") from e
    if not isinstance(header, dict):
        raise fail("corrupt header: expected a JSON object")
    marker = header.get("__metadata__")
    if not isinstance(marker, dict) or marker.get("format") != FORMAT:
        raise fail(f"a safetensors file, but not an rnnkit model file (no "
                   f"'format': {FORMAT!r} in its __metadata__)")
    try:
        version = int(marker.get("format_version", ""))
    except ValueError as e:
        raise fail(f"corrupt header: bad format_version {marker.get('format_version')!r}") from e
    if version > FORMAT_VERSION:
        raise fail(f"written by a newer rnnkit ({marker.get('rnnkit_version', 'unknown')}, "
                   f"format version {version}); this rnnkit reads format versions up to "
                   f"{FORMAT_VERSION}: upgrade rnnkit")
    try:
        metadata = json.loads(marker["metadata"])
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise fail("corrupt header: the metadata entry is missing or not valid JSON") from e
    if not isinstance(metadata, dict):
        raise fail("corrupt header: the metadata entry is not a JSON object")
    return metadata


def _read(path: PathLike, header_only: bool = False) -> tuple[str, bytes]:
    """``(path as str, the file's bytes)``; with ``header_only``, just the 8 + N header bytes."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            if not header_only:
                return path, f.read()
            head = f.read(8)
            if len(head) == 8:
                (n,) = struct.unpack("<Q", head)
                head += f.read(min(n, _HEADER_LIMIT + 1))
            return path, head
    except FileNotFoundError as e:
        raise ModelFileError(f"{path}: no such model file") from e
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read model file ({e.strerror or e})") from e


def load_model_file(path: PathLike) -> tuple[dict[str, ndarray], dict[str, Any]]:
    """Read a file written by :func:`save_model_file`.

    Args:
        path: the model file.

    Returns:
        ``(arrays, metadata)``: writable arrays with their saved dtypes and shapes, and the
        metadata dict as decoded from JSON.

    Raises:
        ModelFileError: the file is missing or unreadable, truncated, has a corrupt header, is
            not an rnnkit file, or comes from a newer format version. The message names the
            path and the problem.
    """
    path, data = _read(path)
    metadata = _read_header(path, data)
    try:
        views = load(data)
    except (SafetensorError, KeyError, ValueError, TypeError) as e:
        raise ModelFileError(f"{path}: corrupt or truncated model file ({e})") from e
    # safetensors hands back np.frombuffer views: read-only in some versions, possibly
    # unaligned, and all keeping the whole file alive. Own copies avoid all three.
    arrays = {k: np.array(v, copy=True) for k, v in views.items()}
    return arrays, metadata


def load_model_metadata(path: PathLike) -> dict[str, Any]:
    """Only the metadata of a model file (checks the header, skips the arrays).

    Raises:
        ModelFileError: as :func:`load_model_file`, except that damage in the array data
            past the header is not detected.
    """
    path, head = _read(path, header_only=True)
    return _read_header(path, head)
