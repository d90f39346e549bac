"""UCR/UEA .ts loader: the real archive files, inline edge cases, malformed files with file and line."""
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.ucr import load_ts

UCR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucr_uea"

MULTIVARIATE_UNEQUAL = """# a comment
@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down

@data
1,2,3:4,5,6:up
7,8:9,10:down
1,?,3,?:4,5,6,?:up
"""


def write(tmp_path, text, name="x.ts", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_multivariate_unequal_length_with_missing_values(tmp_path):
    data = load_ts(write(tmp_path, MULTIVARIATE_UNEQUAL))
    assert data.problem_name == "Tiny" and data.class_labels == ["up", "down"]
    assert data.y.tolist() == ["up", "down", "up"]
    np.testing.assert_array_equal(data.X[0], [[1, 4], [2, 5], [3, 6]])   # (T, D): time first
    np.testing.assert_array_equal(data.X[1], [[7, 9], [8, 10]])
    # the trailing step missing in every channel is padding and is cut; an inner '?' stays NaN
    assert data.X[2].shape == (3, 2) and np.isnan(data.X[2][1, 0]) and data.X[2][1, 1] == 5
    assert data.lengths.tolist() == [3, 2, 3] and data.num_channels == 2


def test_univariate_without_labels(tmp_path):
    data = load_ts(write(tmp_path, "@problemName U\n@univariate true\n@classLabel false\n@data\n1.5,2,-3e-1\n0,0,0\n"))
    assert data.y is None and len(data) == 2
    np.testing.assert_allclose(data.X[0][:, 0], [1.5, 2, -0.3])


@pytest.mark.parametrize("text, message", [
    ("@problemName A\n1,2:a\n", r"line 2: expected a '@key value' header line or '@data'"),
    ("@problemName A\n@classLabel true a\n", "no '@data' line"),
    ("@classLabel true a\n@data\n", "no cases after '@data'"),
    ("@dimensions 2\n@classLabel true a\n@data\n1,2:3,4:a\n1,2:a\n", r"line 5: expected 2 channel\(s\)"),
    ("@classLabel true a\n@data\n1,x,3:a\n", r"line 3: 'x' is not a number"),
    ("@classLabel true a b\n@data\n1,2:c\n", r"line 3: class label 'c' is not among the declared"),
    ("@dimensions 2\n@classLabel true a\n@data\n1,2,3:4,5:a\n", "line 4: the channels of a case must have equal lengths"),
    ("@classLabel true a\n@data\n1,2\n", r"line 3: expected channels and a class label separated by ':'"),
    ("@timeStamps true\n@classLabel true a\n@data\n(0,1):a\n", "time-stamped"),
    ("@equalLength true\n@classLabel true a\n@data\n1,2:a\n1:a\n", "@equalLength true, but case lengths range from 1 to 2"),
    ("@classLabel maybe a\n@data\n1:a\n", "@classLabel must be true or false"),
    ("@classLabel true a\n@data\n?,?:a\n", "line 3: the case has no values"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as e:
        load_ts(path)
    assert str(path) in str(e.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_ts(tmp_path / "missing.ts")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_ts(write(tmp_path, b"@data\n\xff\xfe1:a\n"))


@pytest.mark.skipif(not UCR.exists(), reason="../shared/data/ucr_uea is not present")
@pytest.mark.parametrize("name, n, channels, lengths, labels", [
    ("JapaneseVowels", 270, 12, (7, 26), [str(i) for i in range(1, 10)]),
    ("BasicMotions", 40, 6, (100, 100), ["Standing", "Running", "Walking", "Badminton"]),
    ("GunPoint", 50, 1, (150, 150), ["1", "2"]),
])
def test_real_archive_files(name, n, channels, lengths, labels):
    path = UCR / name / f"{name}_TRAIN.ts"
    data = load_ts(path)
    assert (len(data), data.num_channels) == (n, channels)
    assert (data.lengths.min(), data.lengths.max()) == lengths
    assert data.class_labels == labels and set(data.y) == set(labels)
    # the first case's first channel equals the raw text of the file
    first = next(line for line in path.read_text().splitlines() if line and line[0] not in "#@")
    raw = [float(v) for v in first.split(":")[0].split(",")]
    np.testing.assert_array_equal(data.X[0][:, 0], raw)
    assert data.y[0] == first.rsplit(":", 1)[1]
