"""A directory of WAV files as labelled sequences of log-mel or MFCC frames.

WAV files are read with the standard library's ``wave`` (PCM, 8/16/24/32-bit, any channel count,
mixed down to mono); the features come from librosa, an optional extra
(``pip install rnnkit[audio]``), imported only when features are computed.
"""
from __future__ import annotations

import fnmatch
import os
import re
import wave
from dataclasses import dataclass, field

import numpy as np
from numpy import ndarray

FEATURES = ("mfcc", "logmel")


@dataclass
class AudioDataset:
    """``X[i]: (T_i, F)`` float32 frames (time first), ``y[i]`` the label taken from the file name,
    ``files[i]`` the file name, ``options`` the feature settings (stored with a model so later
    files are turned into the same features)."""

    X: list[ndarray]
    y: list[str]
    files: list[str]
    options: dict = field(default_factory=dict)


def read_wav(path: str | os.PathLike) -> tuple[ndarray, int]:
    """``(samples, sample_rate)``: mono float64 samples in [-1, 1) from a PCM WAV file.

    Raises:
        ValueError: naming the file, when it is unreadable, not a PCM WAV, or empty.
    """
    path = os.fspath(path)
    try:
        with wave.open(path, "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{path}: not a PCM WAV file ({e})") from e
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from e
    if not raw:
        raise ValueError(f"{path}: the WAV file holds no samples")
    if width == 1:
        a = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) / 128  # 8-bit WAV is unsigned
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        a = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16))
        a = np.where(a >= 1 << 23, a - (1 << 24), a) / float(1 << 23)
    else:
        a = np.frombuffer(raw, {2: "<i2", 4: "<i4"}[width]).astype(np.float64) / float(1 << (8 * width - 1))
    return a.reshape(-1, channels).mean(axis=1), rate


def audio_features(samples: ndarray, sample_rate: int, features: str = "mfcc", n_mfcc: int = 20,
                   n_mels: int = 40, frame_ms: float = 25.0, hop_ms: float = 10.0, deltas: bool = True) -> ndarray:
    """(T, F) frames of ``samples``: ``"logmel"`` is the log (dB) power of ``n_mels`` mel bands;
    ``"mfcc"`` the first ``n_mfcc`` cepstral coefficients of those bands; ``deltas`` appends each
    coefficient's first time derivative. Windows of ``frame_ms`` every ``hop_ms``."""
    try:
        import librosa
    except ImportError:
        raise ImportError("audio features need librosa: pip install 'rnnkit[audio]'") from None
    if features not in FEATURES:
        raise ValueError(f"audio_features: features must be one of {FEATURES}, got {features!r}")
    n_fft = max(16, int(round(sample_rate * frame_ms / 1000)))
    hop = max(1, int(round(sample_rate * hop_ms / 1000)))
    y = samples.astype(np.float32)
    if len(y) < n_fft:                                   # a very short clip still gives one frame
        y = np.pad(y, (0, n_fft - len(y)))
    mel = librosa.feature.melspectrogram(y=y, sr=sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels,
                                         fmax=sample_rate / 2)
    f = librosa.power_to_db(mel, ref=1.0, top_db=None)   # an absolute reference: loudness is kept
    if features == "mfcc":
        f = librosa.feature.mfcc(S=f, n_mfcc=n_mfcc)
    if deltas:
        d = librosa.feature.delta(f, width=min(9, f.shape[1] - (1 - f.shape[1] % 2)), mode="nearest") \
            if f.shape[1] >= 3 else np.zeros_like(f)
        f = np.concatenate([f, d])
    return f.T.astype(np.float32)


def load_audio_dir(path: str | os.PathLike, pattern: str = "*.wav", exclude: str | None = None,
                   label_pattern: str = r"^([^_]+)_", **feature_options) -> AudioDataset:
    """Every WAV file in directory ``path`` whose name matches the glob ``pattern`` (and not
    ``exclude``), sorted by name, as feature frames (:func:`audio_features` with
    ``feature_options``) labelled by the first group of the regular expression ``label_pattern``
    searched in the file name (default: the text before the first ``_``, so
    ``7_jackson_32.wav`` is a ``"7"``).

    Raises:
        ValueError: the directory is missing or has no matching files, a name gives no label, or
            a file is not a PCM WAV (naming it).
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"{path}: not a directory of WAV files")
    try:
        regex = re.compile(label_pattern)
    except re.error as e:
        raise ValueError(f"load_audio_dir: label_pattern {label_pattern!r} is not a regular expression ({e})") from e
    if regex.groups < 1:
        raise ValueError(f"load_audio_dir: label_pattern {label_pattern!r} needs a group, e.g. r'^([^_]+)_'")
    names = sorted(n for n in os.listdir(path) if fnmatch.fnmatch(n.lower(), pattern.lower())
                   and not (exclude and fnmatch.fnmatch(n.lower(), exclude.lower())))
    if not names:
        raise ValueError(f"{path}: no files match {pattern!r}" + (f" without {exclude!r}" if exclude else ""))
    options = {"label_pattern": label_pattern, **feature_options}
    X, y = [], []
    for name in names:
        match = regex.search(name)
        if not match or not match.group(1):
            raise ValueError(f"{os.path.join(path, name)}: the name gives no label with pattern {label_pattern!r}")
        samples, rate = read_wav(os.path.join(path, name))
        X.append(audio_features(samples, rate, **feature_options))
        y.append(match.group(1))
    return AudioDataset(X, y, names, options)


__all__ = ["AudioDataset", "read_wav", "audio_features", "load_audio_dir", "FEATURES"]
