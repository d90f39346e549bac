"""Model files: exact round trips, atomic writes, and clear errors for every kind of bad file."""
import json
import os
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from rnnkit import io
from rnnkit.data.vocab import Vocabulary
from rnnkit.io import (ModelFileError, atomic_write_bytes, atomic_write_text, load_model_file,
                       load_model_metadata, save_model_file)


def sample_arrays():
    rng = np.random.default_rng(0)
    return {
        "encoder.layers.0.fwd.Wx": rng.standard_normal((3, 5)).astype(np.float32),
        "encoder.layers.0.fwd.b": rng.standard_normal(5),  # float64
        "steps": np.array([1, -2, 3_000_000_000], dtype=np.int64),
        "scalar": np.array(2.5, dtype=np.float32),
        "mask": np.array([True, False]),
        "transposed": rng.standard_normal((4, 3)).T,  # not C-contiguous
    }


def sample_metadata():
    vocab = Vocabulary.build_chars("Ωμέγα naïve 🙂\n", specials=("<PAD>", "<UNK>"))
    return {"config": {"hidden_size": 16, "cell": "lstm", "layers": [1, 2, {"x": None}]},
            "vocabulary": vocab.to_dict(), "train": {"loss": 1.25, "step": 7, "ok": True}}


def temp_leftovers(directory):
    return [p for p in os.listdir(directory) if p.endswith(".tmp")]


def test_round_trip_arrays_and_metadata(tmp_path):
    path = tmp_path / "model.safetensors"
    arrays, metadata = sample_arrays(), sample_metadata()
    save_model_file(path, arrays, metadata)
    loaded, meta = load_model_file(path)
    assert sorted(loaded) == sorted(arrays)
    for k, a in arrays.items():
        assert loaded[k].dtype == a.dtype and loaded[k].shape == a.shape, k
        np.testing.assert_array_equal(loaded[k], a)
        assert loaded[k].flags.writeable
    loaded["steps"][0] = 9  # writable for real
    assert meta == metadata
    vocab = Vocabulary.from_dict(meta["vocabulary"])
    assert vocab.decode_text(vocab.encode("Ωμέγα 🙂\n")) == "Ωμέγα 🙂\n"
    assert load_model_metadata(str(path)) == metadata
    assert temp_leftovers(tmp_path) == []


def test_file_is_plain_safetensors_with_marker(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model_file(path, {"w": np.ones(2, np.float32)}, {"a": 1})
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    assert header["__metadata__"]["format"] == "rnnkit"
    assert int(header["__metadata__"]["format_version"]) == io.FORMAT_VERSION
    assert "rnnkit_version" in header["__metadata__"]
    assert json.loads(header["__metadata__"]["metadata"]) == {"a": 1}
    assert b"pickle" not in data and header["w"]["dtype"] == "F32"


def test_numpy_scalars_in_metadata_and_empty_arrays(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model_file(path, {}, {"loss": np.float32(0.5), "hist": np.arange(3), "nan": float("nan")})
    arrays, meta = load_model_file(path)
    assert arrays == {} and meta["loss"] == 0.5 and meta["hist"] == [0, 1, 2]
    assert np.isnan(meta["nan"])


@pytest.mark.parametrize("arrays, metadata, match", [
    ({"a": np.array(["x"])}, {}, "dtype"),
    ({"a": np.array([object()])}, {}, "dtype"),
    ({"__metadata__": np.zeros(1)}, {}, "names"),
    ({"": np.zeros(1)}, {}, "names"),
    ({"a": np.zeros(1)}, {"f": object()}, "JSON"),
    ({"a": np.zeros(1)}, [1], "metadata as a dict"),
])
def test_save_rejects_what_it_cannot_store(tmp_path, arrays, metadata, match):
    with pytest.raises(ValueError, match=match):
        save_model_file(tmp_path / "m.safetensors", arrays, metadata)
    assert os.listdir(tmp_path) == []


# ---- atomicity ------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["replace", "fsync", "write"])
def test_crash_during_write_keeps_previous_file_and_no_temp(tmp_path, monkeypatch, where):
    path = tmp_path / "model.safetensors"
    save_model_file(path, {"w": np.arange(4.0)}, {"version": "old"})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError(f"simulated crash in {where}")

    if where == "write":  # die half way through serialising the bytes to disk
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[:len(data) // 2])
                crash()

        monkeypatch.setattr(io.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(io.os, where, crash)
    with pytest.raises(OSError, match="simulated crash"):
        save_model_file(path, {"w": np.arange(1000.0)}, {"version": "new"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_model_file(path)[1] == {"version": "old"}
    assert temp_leftovers(tmp_path) == [] and os.listdir(tmp_path) == ["model.safetensors"]


def test_keyboard_interrupt_also_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "history.json"
    monkeypatch.setattr(io.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "{}")
    assert os.listdir(tmp_path) == []


def test_atomic_write_text_and_bytes(tmp_path):
    path = tmp_path / "history.json"
    atomic_write_text(path, "first\n")
    atomic_write_text(str(path), "sëcond\r\n")
    assert path.read_bytes() == "sëcond\r\n".encode("utf-8")
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["history.json"]
    if os.name == "posix":  # the usual permissions, not mkstemp's 0o600
        umask = os.umask(0)
        os.umask(umask)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ---- bad files ------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(ModelFileError, match="nope.safetensors: no such model file"):
        load_model_file(path)
    with pytest.raises(ModelFileError, match="no such"):
        load_model_metadata(path)
    with pytest.raises(ModelFileError, match="cannot read"):
        load_model_file(tmp_path)  # a directory
    assert issubclass(ModelFileError, ValueError)


def test_truncated_file_at_every_kind_of_cut(tmp_path):
    good = tmp_path / "good.safetensors"
    save_model_file(good, sample_arrays(), sample_metadata())
    data = good.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    cuts = sorted({0, 1, 7, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1,
                   (8 + n + len(data)) // 2, len(data) - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match=f"cut{cut}.safetensors") as info:
            load_model_file(path)
        assert "truncat" in str(info.value) or "corrupt" in str(info.value), cut


def test_random_garbage(tmp_path):
    rng = np.random.default_rng(1)
    for i, size in enumerate([3, 64, 5000]):
        path = tmp_path / f"garbage{i}.bin"
        path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        with pytest.raises(ModelFileError, match=f"garbage{i}.bin"):
            load_model_file(path)
    text = tmp_path / "notes.txt"
    text.write_text("just some text, not a model " * 10)
    with pytest.raises(ModelFileError, match="notes.txt"):
        load_model_file(text)


def test_corrupt_header_json(tmp_path):
    path = tmp_path / "m.safetensors"
    body = b'{"w": not json}'
    path.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(ModelFileError, match="corrupt header"):
        load_model_file(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(ModelFileError, match="other.safetensors.*not an rnnkit model file"):
        load_model_file(path)
    save_file({"w": np.zeros(3, np.float32)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="not an rnnkit"):
        load_model_file(path)


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "future.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(path), metadata={
        "format": "rnnkit", "format_version": str(io.FORMAT_VERSION + 1),
        "rnnkit_version": "9.0", "metadata": "{}"})
    with pytest.raises(ModelFileError, match="future.safetensors.*newer rnnkit.*upgrade"):
        load_model_file(path)


@pytest.mark.parametrize("marker, match", [
    ({"format": "rnnkit", "format_version": "one", "metadata": "{}"}, "format_version"),
    ({"format": "rnnkit", "format_version": "1"}, "metadata entry"),
    ({"format": "rnnkit", "format_version": "1", "metadata": "{bad"}, "metadata entry"),
    ({"format": "rnnkit", "format_version": "1", "metadata": "[1]"}, "not a JSON object"),
])
def test_damaged_rnnkit_marker(tmp_path, marker, match):
    path = tmp_path / "m.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(path), metadata=marker)
    with pytest.raises(ModelFileError, match=match):
        load_model_file(path)


def test_corrupt_array_entry_is_wrapped(tmp_path):
    """A header that parses but lies about the data: safetensors' own error, wrapped."""
    path = tmp_path / "m.safetensors"
    save_model_file(path, {"w": np.zeros(4, np.float32)}, {})
    data = path.read_bytes()
    bad = data.replace(b'"data_offsets":[0,16]', b'"data_offsets":[0,32]')
    assert bad != data
    path.write_bytes(bad)
    with pytest.raises(ModelFileError, match="m.safetensors: corrupt or truncated"):
        load_model_file(path)
