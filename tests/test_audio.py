"""WAV directories: PCM reading by hand-made files, labels from names, features, errors, learning on tones."""
import wave
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.audio import load_audio_dir, read_wav

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"


def write_wav(path, samples, rate=8000, width=2, channels=1):
    """Samples in [-1, 1), (N,) or (N, channels), as PCM of ``width`` bytes."""
    a = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    scale = float(1 << (8 * width - 1))
    ints = np.clip(np.round(a * scale), -scale, scale - 1).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    elif width == 3:
        u = ints.reshape(-1) & 0xFFFFFF
        raw = np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        raw = ints.astype({2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_read_wav_every_pcm_width(tmp_path, width):
    x = np.array([0.0, 0.5, -0.5, 0.25, -1.0])
    write_wav(tmp_path / "a.wav", x, width=width)
    samples, rate = read_wav(tmp_path / "a.wav")
    assert rate == 8000
    np.testing.assert_allclose(samples, x, atol=1 / 2 ** (8 * width - 2))


def test_stereo_is_mixed_to_mono(tmp_path):
    write_wav(tmp_path / "s.wav", np.array([[0.5, -0.5], [0.25, 0.75]]), channels=2)
    np.testing.assert_allclose(read_wav(tmp_path / "s.wav")[0], [0.0, 0.5], atol=1e-4)


def test_bad_files(tmp_path):
    (tmp_path / "1_x_0.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(ValueError, match=r"1_x_0.wav: not a PCM WAV file"):
        read_wav(tmp_path / "1_x_0.wav")
    with pytest.raises(ValueError, match="cannot read"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="not a directory of WAV files"):
        load_audio_dir(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"no files match '\*.flac'"):
        load_audio_dir(tmp_path, pattern="*.flac")
    with pytest.raises(ValueError, match="needs a group"):
        load_audio_dir(tmp_path, label_pattern="^x")
    write_wav(tmp_path / "nolabel.wav", np.zeros(400))
    with pytest.raises(ValueError, match=r"nolabel.wav: the name gives no label"):
        load_audio_dir(tmp_path, pattern="nolabel*")


def tones(directory, n_per_class=12, seed=0):
    """Two 'digits': a low and a high tone with noise, of varying length; names like FSDD's."""
    rng = np.random.default_rng(seed)
    Path(directory).mkdir(exist_ok=True)
    for label, freq in (("low", 300.0), ("high", 1500.0)):
        for i in range(n_per_class):
            t = np.arange(int(rng.integers(1600, 4000))) / 8000
            x = 0.4 * np.sin(2 * np.pi * freq * (1 + 0.05 * rng.normal()) * t) + 0.05 * rng.normal(size=t.size)
            write_wav(Path(directory) / f"{label}_spk_{i}.wav", x)


def test_features_labels_and_learning(tmp_path):
    pytest.importorskip("librosa")
    from rnnkit import SequenceClassifier
    tones(tmp_path)
    train = load_audio_dir(tmp_path, exclude="*_[0-3].wav", features="logmel", n_mels=20, deltas=False)
    test = load_audio_dir(tmp_path, pattern="*_[0-3].wav", features="logmel", n_mels=20, deltas=False)
    assert len(train.X) == 16 and len(test.X) == 8 and train.y.count("low") == 8
    assert all(x.shape[1] == 20 and x.dtype == np.float32 for x in train.X)
    # 25 ms windows every 10 ms: a 0.3 s clip has about 30 frames
    assert abs(len(train.X[0]) - read_wav(tmp_path / train.files[0])[0].size / 80) <= 1.5
    assert train.options == {"label_pattern": r"^([^_]+)_", "features": "logmel", "n_mels": 20, "deltas": False}
    clf = SequenceClassifier(hidden_size=8, n_models=1, max_epochs=20, patience=5).fit(train.X, train.y)
    assert clf.score(test.X, test.y) >= 0.85
    mfcc = load_audio_dir(tmp_path, pattern="low_spk_1.wav", n_mfcc=13)  # default: MFCC with deltas
    assert mfcc.X[0].shape[1] == 26


def test_cli_on_a_wav_directory(tmp_path, capsys):
    pytest.importorskip("librosa")
    from rnnkit.cli import main
    tones(tmp_path / "train", n_per_class=8)
    tones(tmp_path / "test", n_per_class=4, seed=1)
    out = tmp_path / "m.safetensors"
    assert main(["train-classifier", str(tmp_path / "train"), "--test", str(tmp_path / "test"), "--out", str(out),
                 "--hidden-size", "8", "--n-models", "1", "--max-epochs", "15"]) == 0
    assert main(["predict", str(out), str(tmp_path / "test")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()[-8:]) == 8


@pytest.mark.skipif(not FSDD.exists(), reason="../shared/data/fsdd is not present")
def test_fsdd_slice():
    pytest.importorskip("librosa")
    data = load_audio_dir(FSDD, pattern="[37]_jackson_[0-4].wav")
    assert data.y == ["3"] * 5 + ["7"] * 5 and data.files[0] == "3_jackson_0.wav"
    assert all(x.shape[1] == 40 and 10 <= len(x) <= 230 for x in data.X)   # 20 MFCC + 20 deltas, 0.1-2.3 s
