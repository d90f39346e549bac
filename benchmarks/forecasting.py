"""Forecaster on real yearly and weekly series against AR baselines fitted by statsmodels, every seed, timed.

    pip install 'rnnkit[bench]'                      # statsmodels: the data sets and the AR fits
    python benchmarks/forecasting.py                 # everything (see the results file for the time)
    python benchmarks/forecasting.py --datasets sunspots --seeds 0 --configs default
    python benchmarks/forecasting.py --tune           # the grid behind TUNED, on training years only

Tasks (training years only are used to fit anything, including the AR baselines):
  sunspots  yearly 1700-2008: fit on 1700-1979, one-step-ahead forecasts of 1980-2008 from the
            actual past (the issue's quality bar: RMSE at or below AR(9) fitted on 1700-1979).
  co2       weekly Mauna Loa 1958-2001, gaps forward-filled (as statsmodels' STL example does):
            fit on all but the last 104 weeks; forecasts of those 104 weeks one step ahead, and 52
            steps ahead from every origin (direct model, and the one-step model run recursively).
  nile      yearly flow 1871-1970: fit on 1871-1950, one-step-ahead forecasts of 1951-1970.

"default" is ``Forecaster()`` with nothing set (plus ``horizon`` for the 52-step task). "tuned" is
the setting chosen on validation splits carved from the sunspot training years (fit 1700-1939 /
predict 1940-1979 and fit 1700-1899 / predict 1900-1939; see TUNED), applied unchanged to the
other series. Writes ``benchmarks/results/forecasting.{json,md}`` after every run.
"""
from __future__ import annotations

import os

# One BLAS thread: small matrix products, and a shared 2-core machine (threads only fight).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from rnnkit import Forecaster  # noqa: E402
from rnnkit.metrics.regression import mae, rmse  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "forecasting"
SEEDS = [0, 1, 2, 3, 4]

# Chosen by --tune: the lowest mean RMSE over seeds 0-2 and both sunspot validation splits below
# (training years only); the grid and its figures are in the results file.
TUNED: dict = {"val_fraction": 0.1}
DEV_SPLITS = {"fit 1700-1939, predict 1940-1979": (1939, 1979), "fit 1700-1899, predict 1900-1939": (1899, 1939)}
GRID = [{}, {"hidden_size": 16}, {"hidden_size": 64}, {"num_layers": 2}, {"dropout": 0.2}, {"cell": "gru"},
        {"lookback": 30}, {"n_models": 10}, {"lr": 1e-3}, {"val_fraction": 0.1},
        {"val_fraction": 0.1, "num_layers": 2}, {"val_fraction": 0.1, "num_layers": 2, "dropout": 0.2}]


def load(name: str) -> tuple[np.ndarray, int, str]:
    """(series, n_train, description): fit on series[:n_train], forecast the rest."""
    import statsmodels.api as sm
    if name == "sunspots":
        d = sm.datasets.sunspots.load_pandas().data
        return d.SUNACTIVITY.to_numpy(float), int((d.YEAR <= 1979).sum()), "yearly sunspot number, 1700-2008"
    if name == "co2":
        y = sm.datasets.co2.load_pandas().data.co2.ffill().to_numpy(float)
        return y, len(y) - 104, "weekly CO2 ppm at Mauna Loa, 1958-2001, gaps forward-filled"
    if name == "nile":
        d = sm.datasets.nile.load_pandas().data
        return d.volume.to_numpy(float), int((d.year <= 1950).sum()), "yearly Nile flow, 1871-1970"
    raise ValueError(f"unknown data set {name!r}")


def ar_forecasts(y: np.ndarray, n_train: int, lags: int, horizon: int) -> np.ndarray:
    """AR(lags) with a constant fitted by statsmodels on y[:n_train]; forecasts (N, horizon) from
    every origin t >= n_train with horizon steps after it, the coefficients fixed, the actual past
    before t and the AR recursion beyond it."""
    from statsmodels.tsa.ar_model import AutoReg
    params = AutoReg(y[:n_train], lags=lags, trend="c").fit().params
    c, phi = params[0], params[1:]
    origins = np.arange(n_train, len(y) - horizon + 1)
    past = np.stack([y[t - lags:t][::-1] for t in origins])          # newest first
    out = np.empty((len(origins), horizon))
    for k in range(horizon):
        out[:, k] = c + past @ phi
        past = np.concatenate([out[:, k:k + 1], past[:, :-1]], axis=1)
    return out


def ar_order(y: np.ndarray, n_train: int, maxlag: int) -> int:
    """The AR order statsmodels' AIC search picks on the training part."""
    from statsmodels.tsa.ar_model import ar_select_order
    return max(1, len(ar_select_order(y[:n_train], maxlag=maxlag, ic="aic", trend="c").ar_lags or [1]))


def baselines(name: str, y: np.ndarray, n: int, horizon: int) -> dict:
    actual = np.stack([y[t:t + horizon] for t in range(n, len(y) - horizon + 1)])
    naive = np.repeat(y[n - 1:len(y) - horizon][:, None], horizon, axis=1)
    rows = {"naive": naive}
    if name == "sunspots":
        rows["AR(9)"] = ar_forecasts(y, n, 9, horizon)
    else:
        p = ar_order(y, n, 60 if name == "co2" else 10)
        rows[f"AR({p}), AIC order"] = ar_forecasts(y, n, p, horizon)
    if name == "co2":
        rows["AR(52)"] = ar_forecasts(y, n, 52, horizon)
        rows["seasonal naive (52)"] = np.stack([y[t - 52 + np.arange(horizon) % 52] for t in range(n, len(y) - horizon + 1)])
    return {k: {"rmse": rmse(actual, v), "mae": mae(actual, v)} for k, v in rows.items()}


TASKS = {  # name -> [(task label, horizon, Forecaster options besides the config, evaluate horizon)]
    "sunspots": [("one step", 1, {}, 1)],
    "co2": [("one step", 1, {}, 1), ("52 steps, recursive from the one-step model", 1, {}, 52),
            ("52 steps, direct", 52, {"horizon": 52}, 52)],
    "nile": [("one step", 1, {}, 1)],
}


def run(name: str, configs: list[str], seeds: list[int], results: dict) -> None:
    y, n, description = load(name)
    entry = results.setdefault(name, {"description": description, "train": n, "test": len(y) - n, "runs": []})
    entry["runs"] = [r for r in entry["runs"] if not (r["config"] in configs and r["seed"] in seeds)]
    for label, _, _, horizon in TASKS[name]:
        entry.setdefault("baselines", {})[label] = baselines(name, y, n, horizon)
    for config in configs:
        for seed in seeds:
            fitted: dict = {}
            for label, train_horizon, options, horizon in TASKS[name]:
                params = {**(TUNED if config == "tuned" else {}), **options, "seed": seed}
                key = json.dumps(params, sort_keys=True)
                t0 = time.perf_counter()
                if key not in fitted:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        fitted[key] = (Forecaster(**params).fit(y[:n]), time.perf_counter() - t0)
                model, fit_seconds = fitted[key]
                t1 = time.perf_counter()
                metrics = model.evaluate(y, horizon=horizon, start=n)
                row = {"config": config, "seed": seed, "task": label, "params": params, **metrics,
                       "lookback": model.lookback_, "frame": model.frame_, "steps": model.history_[-1]["step"],
                       "fit_seconds": round(fit_seconds, 1), "predict_seconds": round(time.perf_counter() - t1, 2)}
                entry["runs"].append(row)
                print(f"{name:9s} {label:45s} {config:8s} seed {seed}: RMSE {metrics['rmse']:.3f}  MAE "
                      f"{metrics['mae']:.3f}  fit {fit_seconds:.0f}s", flush=True)
                write(results)


def tune(results: dict, seeds: list[int]) -> None:
    """The GRID on the sunspot validation splits (DEV_SPLITS), one-step RMSE against AR(9) there."""
    import statsmodels.api as sm
    d = sm.datasets.sunspots.load_pandas().data
    years, y = d.YEAR.to_numpy(), d.SUNACTIVITY.to_numpy(float)
    tuning = results.setdefault("tuning", {"splits": {}, "grid": []})
    for split, (fit_end, predict_end) in DEV_SPLITS.items():
        series, n = y[years <= predict_end], int((years <= fit_end).sum())
        tuning["splits"][split] = {"AR(9)": rmse(series[n:], ar_forecasts(series, n, 9, 1)[:, 0])}
    for params in GRID:
        row = {"params": params, "rmse": {}}
        for split, (fit_end, predict_end) in DEV_SPLITS.items():
            series, n = y[years <= predict_end], int((years <= fit_end).sum())
            row["rmse"][split] = [Forecaster(**params, seed=seed).fit(series[:n]).evaluate(series, start=n)["rmse"]
                                  for seed in seeds]
        row["mean"] = float(np.mean([np.mean(v) for v in row["rmse"].values()]))
        tuning["grid"] = [r for r in tuning["grid"] if r["params"] != params] + [row]
        print(f"tune {json.dumps(params):55s} mean RMSE {row['mean']:.3f}", flush=True)
        write(results)


def write(results: dict) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    results["machine"] = {"python": platform.python_version(), "numpy": np.__version__,
                          "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                          "load_average_now": [round(v, 2) for v in os.getloadavg()]}
    Path(f"{RESULTS}.json").write_text(json.dumps(results, indent=1) + "\n")
    Path(f"{RESULTS}.md").write_text(markdown(results))


def markdown(results: dict) -> str:
    out = ["# Forecaster benchmark", "",
           "Written by `benchmarks/forecasting.py` (read its docstring for the protocol). RMSE in the series' units;",
           "every seed run is listed, none dropped. Baselines are fitted on the training part only.", ""]
    for name in ("sunspots", "co2", "nile"):
        if name not in results:
            continue
        e = results[name]
        out += [f"## {name}: {e['description']}", "", f"{e['train']} training steps, {e['test']} test steps.", ""]
        out += ["| task | model | seeds | RMSE per seed | mean RMSE | mean MAE | fit s (mean) |", "|---|---|---|---|---|---|---|"]
        shown = set()
        for label, _, _, horizon in TASKS[name]:
            for base, m in e.get("baselines", {}).get(label, {}).items():
                if (base, horizon) not in shown:  # tasks with the same horizon share their baselines
                    out.append(f"| {label} | {base} | - | - | {m['rmse']:.3f} | {m['mae']:.3f} | - |")
                    shown.add((base, horizon))
            for config in ("default", "tuned"):
                runs = [r for r in e["runs"] if r["task"] == label and r["config"] == config]
                if runs:
                    per = ", ".join(f"{r['rmse']:.2f}" for r in runs)
                    out.append(f"| {label} | Forecaster, {config} | {','.join(str(r['seed']) for r in runs)} | {per} | "
                               f"{np.mean([r['rmse'] for r in runs]):.3f} | {np.mean([r['mae'] for r in runs]):.3f} | "
                               f"{np.mean([r['fit_seconds'] for r in runs]):.0f} |")
        out.append("")
    if results.get("tuning"):
        t = results["tuning"]
        splits = list(t["splits"])
        ar = ", ".join(f"{t['splits'][k]['AR(9)']:.2f}" for k in splits)
        out += ["## Choosing the tuned setting (sunspot training years only)", "",
                f"One-step RMSE, mean over seeds 0-2, on two validation splits inside 1700-1979 (AR(9) there: {ar}).", "",
                "| setting (changes from the defaults) | " + " | ".join(splits) + " | mean |",
                "|---|" + "---|" * (len(splits) + 1)]
        for r in sorted(t["grid"], key=lambda r: r["mean"]):
            out.append(f"| `{json.dumps(r['params'])}` | " + " | ".join(f"{np.mean(r['rmse'][k]):.2f}" for k in splits)
                       + f" | {r['mean']:.3f} |")
        out.append("")
    m = results.get("machine", {})
    out += [f"Machine: {m.get('cpus')} CPUs ({m.get('processor')}), Python {m.get('python')}, NumPy {m.get('numpy')}; "
            f"load average when written {m.get('load_average_now')}.", ""]
    if results.get("notes"):
        out += ["## Notes", "", *results["notes"], ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--configs", nargs="+", default=["default", "tuned"], choices=["default", "tuned"])
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--tune", action="store_true", help="run the GRID on the sunspot validation splits instead")
    args = parser.parse_args()
    path = Path(f"{RESULTS}.json")
    results = json.loads(path.read_text()) if path.exists() else {}
    if args.tune:
        tune(results, [0, 1, 2])
        return
    for name in args.datasets:
        run(name, args.configs, args.seeds, results)


if __name__ == "__main__":
    main()
