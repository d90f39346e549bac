"""Reading user files with errors that name the file (shared by the CLI and the loaders)."""
from __future__ import annotations

import os


def read_text(path: str | os.PathLike) -> str:
    """The whole UTF-8 file; a ValueError naming the file when it is missing or not UTF-8."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"{os.fspath(path)}: not UTF-8 text (byte {e.start}: {e.reason})") from e
    except OSError as e:
        raise ValueError(f"{os.fspath(path)}: cannot read ({e.strerror})") from e
