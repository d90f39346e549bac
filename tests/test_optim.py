"""Optimizers, clipping and schedules: parity with torch.optim, hand arithmetic, checkpoints."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import load, save

from rnnkit.optim import (SGD, Adagrad, Adam, AdamW, CosineDecay, ExponentialDecay, RMSprop,
                          StepDecay, WarmupLinear, apply_schedule, clip_grad_norm, clip_grad_value)

SHAPES = {"encoder.Wx": (3, 4), "encoder.b": (4,), "head.W": (4, 2)}

# (ours, torch's, keyword arguments shared by both): every option of every optimizer
CONFIGS = [
    (SGD, torch.optim.SGD, dict(lr=0.1)),
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=0.05)),
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05)),
    (Adagrad, torch.optim.Adagrad, dict(lr=0.1)),
    (Adagrad, torch.optim.Adagrad, dict(lr=0.1, eps=1e-3, weight_decay=0.05)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.9)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, weight_decay=0.05)),
    (Adam, torch.optim.Adam, dict(lr=0.01)),
    (Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    (AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (AdamW, torch.optim.AdamW, dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1)),
]
IDS = [f"{ours.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for ours, _, kw in CONFIGS]


def make_params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s).astype(dtype) for k, s in SHAPES.items()}


def make_grads(steps, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [{k: rng.normal(size=s).astype(dtype) for k, s in SHAPES.items()} for _ in range(steps)]


def run_torch(torch_cls, kwargs, params, grad_seq, lrs=None):
    """torch.optim on the same params and gradient sequence; returns the params after each step."""
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch_cls(list(tensors.values()), foreach=False, **kwargs)
    history = []
    for i, grads in enumerate(grad_seq):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[i]
        for k, t in tensors.items():
            t.grad = torch.tensor(grads[k])
        opt.step()
        history.append({k: t.detach().numpy().copy() for k, t in tensors.items()})
    return history


@pytest.mark.parametrize("ours, theirs, kwargs", CONFIGS, ids=IDS)
def test_matches_torch_for_one_and_five_steps(ours, theirs, kwargs):
    params, grad_seq = make_params(), make_grads(5)
    expected = run_torch(theirs, kwargs, params, grad_seq)
    opt = ours(**kwargs)
    arrays = dict(params)  # the same array objects: the optimizer must update them in place
    for i, grads in enumerate(grad_seq):
        opt.step(params, grads)
        if i in (0, 4):
            for k in SHAPES:
                np.testing.assert_allclose(params[k], expected[i][k], rtol=1e-12, atol=1e-12,
                                           err_msg=f"{ours.__name__} step {i + 1} {k}")
    assert all(params[k] is arrays[k] for k in SHAPES)
    assert not np.allclose(params["head.W"], make_params()["head.W"])  # it really moved


@pytest.mark.parametrize("ours, theirs, kwargs", CONFIGS, ids=IDS)
def test_float32_stays_float32_and_tracks_torch(ours, theirs, kwargs):
    params, grad_seq = make_params(dtype=np.float32), make_grads(5, dtype=np.float32)
    expected = run_torch(theirs, kwargs, params, grad_seq)
    opt = ours(**kwargs)
    for grads in grad_seq:
        opt.step(params, grads)
    for k in SHAPES:
        assert params[k].dtype == np.float32
        np.testing.assert_allclose(params[k], expected[-1][k], rtol=1e-5, atol=1e-6)
    for key, state in opt.state.items():
        for buffer, value in state.items():
            assert buffer == "step" or value.dtype == np.float32, (key, buffer)
    for k, v in opt.state_dict().items():
        if k.startswith("state.") and not k.endswith(".step"):
            assert v.dtype == np.float32, k


@pytest.mark.parametrize("ours, theirs, kwargs", [CONFIGS[i] for i in (4, 8, -1)],
                         ids=[IDS[i] for i in (4, 8, -1)])
def test_float64_grads_do_not_promote_float32_params_or_state(ours, theirs, kwargs):
    params = make_params(dtype=np.float32)
    opt = ours(**kwargs)
    opt.step(params, make_grads(1)[0])
    assert all(p.dtype == np.float32 for p in params.values())
    assert all(v.dtype == np.float32 for s in opt.state.values() for b, v in s.items() if b != "step")


def test_changing_lr_between_steps_matches_torch():
    params, grad_seq = make_params(), make_grads(4)
    lrs = [0.1, 0.05, 0.2, 0.01]
    expected = run_torch(torch.optim.Adam, {"lr": 1.0}, params, grad_seq, lrs)
    opt = Adam(lr=1.0)
    for lr, grads in zip(lrs, grad_seq):
        opt.lr = lr
        opt.step(params, grads)
    for k in SHAPES:
        np.testing.assert_allclose(params[k], expected[-1][k], rtol=1e-12, atol=1e-12)


def test_sgd_momentum_step_by_hand():
    # b1 = g1 = 0.5, p1 = 1 - 0.1 * 0.5 = 0.95; b2 = 0.9 * 0.5 + 0.25 = 0.7, p2 = 0.95 - 0.07 = 0.88
    p = {"w": np.array([1.0])}
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(p, {"w": np.array([0.5])})
    assert p["w"][0] == pytest.approx(0.95, abs=1e-15)
    opt.step(p, {"w": np.array([0.25])})
    assert p["w"][0] == pytest.approx(0.88, abs=1e-15)
    assert opt.state["w"]["momentum_buffer"][0] == pytest.approx(0.7, abs=1e-15)
    # Nesterov looks ahead: g + momentum * b, so 0.5 + 0.45 = 0.95 then 0.25 + 0.63 = 0.88
    p = {"w": np.array([1.0])}
    opt = SGD(lr=0.1, momentum=0.9, nesterov=True)
    opt.step(p, {"w": np.array([0.5])})
    assert p["w"][0] == pytest.approx(0.905, abs=1e-15)
    opt.step(p, {"w": np.array([0.25])})
    assert p["w"][0] == pytest.approx(0.817, abs=1e-15)


def test_first_adam_step_moves_each_parameter_by_lr():
    # bias correction undoes the (1 - beta) factors: m_hat = g, sqrt(v_hat) = |g|, so the first
    # step is lr * g / (|g| + eps), lr * sign(g) up to eps
    params, grads = make_params(), make_grads(1)[0]
    before = {k: v.copy() for k, v in params.items()}
    Adam(lr=0.01).step(params, grads)
    for k in SHAPES:
        g = grads[k]
        np.testing.assert_allclose(params[k] - before[k], -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)


@pytest.mark.parametrize("ours, theirs, kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_through_safetensors_resumes_bit_exactly(ours, theirs, kwargs):
    params, grad_seq = make_params(), make_grads(6)
    opt = ours(**kwargs)
    for grads in grad_seq[:3]:
        opt.step(params, grads)
    saved_params = {k: v.copy() for k, v in params.items()}
    blob = save(opt.state_dict())  # every value is an array, so it goes into safetensors as is
    for grads in grad_seq[3:]:
        opt.step(params, grads)

    resumed = ours(lr=123.0)  # hyperparameters come back from the checkpoint, as in torch
    resumed.load_state_dict(load(blob))
    assert repr(resumed) == repr(opt)
    for grads in grad_seq[3:]:
        resumed.step(saved_params, grads)
    for k in SHAPES:
        np.testing.assert_array_equal(saved_params[k], params[k])


def test_state_dict_is_a_snapshot_with_documented_keys():
    params, grad_seq = make_params(), make_grads(2)
    opt = Adam(lr=0.01, betas=(0.8, 0.9))
    opt.step(params, grad_seq[0])
    d = opt.state_dict()
    assert set(d) == {"hyper.lr", "hyper.betas", "hyper.eps", "hyper.weight_decay"} | {
        f"state.{k}.{b}" for k in SHAPES for b in ("step", "exp_avg", "exp_avg_sq")}
    assert d["state.encoder.b.step"] == 1 and d["state.encoder.b.step"].dtype == np.int64
    np.testing.assert_array_equal(d["hyper.betas"], [0.8, 0.9])
    m = d["state.head.W.exp_avg"].copy()
    opt.step(params, grad_seq[1])
    np.testing.assert_array_equal(d["state.head.W.exp_avg"], m)  # later steps do not leak in
    plain = {k: (v.item() if v.ndim == 0 else v) for k, v in d.items()}  # Python scalars load too
    other = Adam()
    other.load_state_dict(plain)
    assert other.betas == (0.8, 0.9) and other.state["head.W"]["step"] == 1


def test_loading_another_optimizers_state_fails_clearly():
    params = make_params()
    sgd = SGD(lr=0.1, momentum=0.9)
    sgd.step(params, make_grads(1)[0])
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: missing \['hyper.betas', 'hyper.eps'\]"):
        Adam().load_state_dict(sgd.state_dict())
    d = Adam().state_dict() | {"state.head.W.momentum_buffer": np.zeros((4, 2))}
    with pytest.raises(ValueError, match=r"unexpected key 'state.head.W.momentum_buffer'"):
        Adam().load_state_dict(d)


def test_key_and_shape_mismatches_name_the_key_and_update_nothing():
    params, grads = make_params(), make_grads(1)[0]
    before = {k: v.copy() for k, v in params.items()}
    opt = SGD(lr=0.1)
    with pytest.raises(ValueError, match=r"SGD.step: .*no gradient for \['head.W'\].*without a parameter: \['head.w'\]"):
        opt.step(params, {"encoder.Wx": grads["encoder.Wx"], "encoder.b": grads["encoder.b"],
                          "head.w": grads["head.W"]})
    with pytest.raises(ValueError, match=r"Adam.step: grads\['head.W'\] has shape \(2, 4\), params\['head.W'\] has \(4, 2\)"):
        Adam().step(params, grads | {"head.W": grads["head.W"].T})
    with pytest.raises(TypeError, match=r"params\['encoder.b'\] must be a floating-point ndarray"):
        opt.step(params | {"encoder.b": params["encoder.b"].tolist()}, grads)
    for k in SHAPES:
        np.testing.assert_array_equal(params[k], before[k])


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="SGD: nesterov=True needs momentum > 0"):
        SGD(lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"Adam: expected betas = \(beta1, beta2\) in \[0, 1\)"):
        Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="RMSprop: expected lr >= 0, got -1"):
        RMSprop(lr=-1)


@pytest.mark.parametrize("ours, theirs, kwargs", CONFIGS, ids=IDS)
def test_gradients_are_only_read(ours, theirs, kwargs):
    params, grads = make_params(), make_grads(2)
    copies = [{k: v.copy() for k, v in g.items()} for g in grads]
    opt = ours(**kwargs)
    for g in grads:
        opt.step(params, g)
    for g, c in zip(grads, copies):
        for k in SHAPES:
            np.testing.assert_array_equal(g[k], c[k])


# ---------------------------------------------------------------- clipping

@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped and untouched
def test_clip_grad_norm_matches_torch(dtype, tol, max_norm):
    grads = make_grads(1, dtype=dtype)[0]
    tensors = [torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name)) for s in SHAPES.values()]
    for t, g in zip(tensors, grads.values()):
        t.grad = torch.tensor(g)
    ref_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm, foreach=False).item()
    norm = clip_grad_norm(grads, max_norm)
    assert norm == pytest.approx(ref_norm, rel=tol)
    for t, (k, g) in zip(tensors, grads.items()):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=tol, atol=tol, err_msg=k)
    total = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values()))
    assert total == pytest.approx(min(norm, max_norm), rel=1e-5)


def test_clip_grad_norm_on_non_finite_gradients():
    grads = make_grads(1)[0]
    grads["encoder.b"][1] = np.inf
    copies = {k: v.copy() for k, v in grads.items()}
    with pytest.raises(FloatingPointError, match=r"clip_grad_norm: the gradient norm is inf; non-finite gradients in \['encoder.b'\]"):
        clip_grad_norm(grads, 1.0)
    grads["head.W"][0, 0] = np.nan
    copies["head.W"][0, 0] = np.nan
    assert np.isnan(clip_grad_norm(grads, 1.0, error_if_nonfinite=False))
    for k in SHAPES:
        np.testing.assert_array_equal(grads[k], copies[k])  # untouched, so the step can be skipped


def test_clip_grad_value_matches_torch():
    grads = make_grads(1)[0]
    tensors = [torch.tensor(g) for g in grads.values()]
    for t in tensors:
        t.grad = t.clone()
    torch.nn.utils.clip_grad_value_(tensors, 0.7)
    clip_grad_value(grads, 0.7)
    for t, g in zip(tensors, grads.values()):
        np.testing.assert_array_equal(g, t.grad.numpy())
    assert max(np.abs(g).max() for g in grads.values()) == 0.7


# ---------------------------------------------------------------- schedules

def torch_lrs(scheduler_cls, steps, **kwargs):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = scheduler_cls(opt, **kwargs)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


@pytest.mark.parametrize("ours, theirs, kwargs", [
    (StepDecay(every=3, gamma=0.5), torch.optim.lr_scheduler.StepLR, dict(step_size=3, gamma=0.5)),
    (ExponentialDecay(gamma=0.9), torch.optim.lr_scheduler.ExponentialLR, dict(gamma=0.9)),
    (CosineDecay(total_steps=10), torch.optim.lr_scheduler.CosineAnnealingLR, dict(T_max=10)),
    (CosineDecay(total_steps=8, min_factor=0.1), torch.optim.lr_scheduler.CosineAnnealingLR,
     dict(T_max=8, eta_min=0.1)),
], ids=["step", "exponential", "cosine", "cosine-min"])
def test_schedules_match_torch_schedulers(ours, theirs, kwargs):
    steps = ours.total_steps + 1 if isinstance(ours, CosineDecay) else 12  # torch turns back up after T_max
    expected = torch_lrs(theirs, steps, **kwargs)
    np.testing.assert_allclose([ours(s) for s in range(steps)], expected, rtol=1e-12, atol=1e-15)


def test_warmup_linear_and_apply_schedule():
    sched = WarmupLinear(warmup_steps=4, total_steps=12)
    assert [sched(s) for s in (0, 2, 4, 8, 12, 20)] == [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    assert CosineDecay(10, min_factor=0.2)(25) == pytest.approx(0.2)
    opt = Adam(lr=0.0)
    assert apply_schedule(opt, sched, 2, base_lr=0.01) == 0.005
    assert opt.lr == 0.005
    apply_schedule(opt, lambda step: 0.5 ** step, 3, base_lr=0.08)  # any callable is a schedule
    assert opt.lr == 0.01
    with pytest.raises(ValueError, match="WarmupLinear: expected 0 <= warmup_steps < total_steps"):
        WarmupLinear(warmup_steps=5, total_steps=5)


def test_scheduled_training_matches_torch_scheduler():
    params, grad_seq = make_params(), make_grads(6)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    topt = torch.optim.SGD(list(tensors.values()), lr=0.1, momentum=0.9, foreach=False)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)
    opt, sched = SGD(lr=0.1, momentum=0.9), StepDecay(every=2, gamma=0.5)
    for step, grads in enumerate(grad_seq):
        for k, t in tensors.items():
            t.grad = torch.tensor(grads[k])
        topt.step()
        tsched.step()
        apply_schedule(opt, sched, step, base_lr=0.1)
        opt.step(params, grads)
    for k in SHAPES:
        np.testing.assert_allclose(params[k], tensors[k].detach().numpy(), rtol=1e-12, atol=1e-12)
