"""The command line's grammar: one flag per hyperparameter, checks before work, exit codes, pipes."""
from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import build_parser, main
from rnnkit.cli.flags import HYPERPARAMETERS, NOT_FLAGS, estimator_params, flag_name
from rnnkit.cli.trainings import TRAININGS

TRAIN_COMMANDS = sorted(TRAININGS)


def subparser(command: str):
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[command]


@pytest.mark.parametrize("command", TRAIN_COMMANDS)
def test_every_hyperparameter_is_a_flag_of_the_same_name(command):
    estimator = TRAININGS[command][0].estimator()
    options = {o for a in subparser(command)._actions for o in a.option_strings}
    for name in inspect.signature(estimator.__init__).parameters:
        if name in ("self",) or name in NOT_FLAGS:
            continue
        assert flag_name(name) in options, f"{command}: no {flag_name(name)} for {estimator.__name__}({name}=)"
    for shared in ("--out", "--resume", "--validation", "--test", "--quiet", "--seed", "--max-steps",
                   "--max-minutes", "--lr", "--cell"):
        assert shared in options, f"{command} lacks {shared}"


@pytest.mark.parametrize("command", TRAIN_COMMANDS)
def test_flags_map_onto_parameters_by_name_and_defaults_come_from_the_estimator(command, tmp_path):
    estimator = TRAININGS[command][0].estimator()
    args = build_parser().parse_args([command, "data", "--out", str(tmp_path / "m"), "--seed", "7",
                                      "--hidden-size", "5", "--cell", "gru"])
    params = estimator_params(args, estimator)
    assert params == {"seed": 7, "hidden_size": 5, "cell": "gru"}   # nothing else: defaults stay the class's
    built = estimator(**params)
    assert built.get_params()["hidden_size"] == 5 and built.get_params()["seed"] == 7


def test_the_flag_table_has_no_unused_entries():
    used = {name for command in TRAIN_COMMANDS
            for name in inspect.signature(TRAININGS[command][0].estimator().__init__).parameters}
    assert set(HYPERPARAMETERS) <= used | {"eval_every"}, sorted(set(HYPERPARAMETERS) - used)


def test_every_cell_name_is_a_choice():
    p = subparser("train-lm")
    cell = next(a for a in p._actions if a.dest == "cell")
    assert set(cell.choices) == set(rnnkit.cell_names())


def test_version_and_usage_exit_codes(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and rnnkit.__version__ in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["train-lm"])                                      # no data, no --out: argparse's usage error
    assert e.value.code == 2


def test_paths_are_checked_before_training(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("hello world\n" * 50, encoding="utf-8")
    cases = [
        (["train-lm", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "m")], "no such file"),
        (["train-lm", str(text), "--out", str(tmp_path / "nodir" / "m")], "does not exist"),
        (["train-lm", str(text), "--out", str(tmp_path)], "is a directory"),
        (["train-lm", str(text), "--out", ""], "empty"),
        (["train-lm", str(text), "--out", str(text)], "destroy"),
        (["train-lm", str(text), "--out", str(tmp_path / "m"), "--resume"], "no checkpoint"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err
    assert text.read_text(encoding="utf-8").startswith("hello")     # the input is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text.txt"]  # nothing was written


def test_a_model_of_the_wrong_kind_is_a_clean_usage_error(tmp_path, capsys):
    from rnnkit.models.classifier import SequenceClassifier
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 6, 1)), [0, 1] * 6
    model = SequenceClassifier(hidden_size=4, n_models=1, max_epochs=1, frame=1).fit(X, y)
    path = tmp_path / "clf.safetensors"
    model.save(path)
    assert main(["sample", str(path)]) == 2
    assert "cannot sample" in capsys.readouterr().err
    assert main(["tag", str(path), str(path)]) == 2
    assert main(["evaluate", str(tmp_path / "none.safetensors"), str(path)]) == 2   # missing: usage
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 40)
    assert main(["sample", str(corrupt)]) == 1                                       # unreadable: a failure
    assert "corrupt.safetensors: corrupt header" in capsys.readouterr().err


class ClosedPipe:
    """A stdout whose reader has gone (``rnnkit predict M DATA | head -1`` after head exits)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        pass


def test_a_closed_pipe_ends_quietly(tmp_path, monkeypatch, capsys):
    from rnnkit.models.forecaster import Forecaster
    series = np.sin(np.arange(200) / 5.0)
    model = Forecaster(lookback=8, horizon=3, hidden_size=4, n_models=1, max_epochs=1).fit(series)
    path = tmp_path / "f.safetensors"
    model.save(path)
    csv = tmp_path / "s.csv"
    csv.write_text("value\n" + "\n".join(f"{v:.5f}" for v in series), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["predict", str(path), str(csv)]) == 0
    assert capsys.readouterr().err == ""                   # no traceback, no error line


def test_quiet_prints_only_results(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog\n" * 40, encoding="utf-8")
    out = tmp_path / "m.safetensors"
    argv = ["train-lm", str(text), "--out", str(out), "--hidden-size", "8", "--num-layers", "1",
            "--seq-len", "10", "--batch-size", "4", "--max-steps", "3"]
    assert main(argv + ["--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert main(argv) == 0
    assert "language model" in capsys.readouterr().err      # messages on stderr without --quiet
