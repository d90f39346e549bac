"""Same weights in, same outputs and gradients out: rnnkit against torch.nn.RNN/GRU/LSTM."""
import itertools

import numpy as np
import pytest

import rnnkit
from rnnkit import interop
from rnnkit.layers.fused import FusedCache
from rnnkit.layers.recurrent import RecurrentCache

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

B, T, D, H = 3, 5, 4, 6
LENGTHS = np.array([5, 2, 4])
KINDS = {
    "rnn-tanh": (rnnkit.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (rnnkit.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "gru": (rnnkit.GRU, torch.nn.GRU, {}),
    "lstm": (rnnkit.LSTM, torch.nn.LSTM, {}),
}
# Relative to the largest value compared: float32 sums here run over at most B * T = 15 steps
# of D + H = 10 terms, whose rounding in any order (PyTorch's kernels and ours differ) stays
# orders of magnitude below 1e-4 (eps32 * sqrt(150) ~ 1.5e-6).
TOLERANCE = {np.float64: 1e-6, np.float32: 1e-4}


def layer_caches(cache):
    """The cache of every direction of every layer in a network's cache."""
    if isinstance(cache, (FusedCache, RecurrentCache)):
        return [cache]
    if isinstance(cache, (tuple, list)):
        return [c for part in cache for c in layer_caches(part)]
    return []


def assert_close(ours, theirs, dtype, what):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    scale = max(np.abs(theirs).max(), 1e-3)
    err = np.abs(ours - theirs).max() / scale
    assert err < TOLERANCE[dtype], f"{what}: relative error {err:.2e}"


def run_torch(module, x, state0, lengths, gy, gstate):
    xt = torch.tensor(x, requires_grad=True)
    st = tuple(torch.tensor(s, requires_grad=True) for s in state0) if state0 is not None else None
    arg = None if st is None else (st[0] if len(st) == 1 else st)
    if lengths is not None:
        packed = pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, final = module(packed, arg)
        y, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    else:
        y, final = module(xt, arg)
    final = final if isinstance(final, tuple) else (final,)
    loss = (y * torch.tensor(gy)).sum() + sum((f * torch.tensor(g)).sum() for f, g in zip(final, gstate))
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return (y.detach().numpy(), tuple(f.detach().numpy() for f in final), xt.grad.numpy(),
            None if st is None else tuple(s.grad.numpy() for s in st), grads)


CASES = list(itertools.product(KINDS, [1, 2, 3], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind,num_layers,bidirectional,with_state,ragged", CASES)
def test_matches_torch(kind, num_layers, bidirectional, with_state, ragged, dtype):
    ours_cls, torch_cls, options = KINDS[kind]
    rng = np.random.default_rng(num_layers * 10 + bidirectional)
    torch.manual_seed(0)
    theirs = torch_cls(D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True,
                       **options).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = ours_cls(D, H, num_layers, bidirectional, dtype=dtype, **options)
    interop.from_torch(ours, theirs.state_dict())

    x = rng.normal(size=(B, T, D)).astype(dtype)
    lengths = LENGTHS if ragged else None
    if ragged:
        for b, L in enumerate(LENGTHS):
            x[b, L:] = 0.0
    n = num_layers * (2 if bidirectional else 1)
    state0 = tuple(rng.normal(size=(n, B, H)).astype(dtype) for _ in ours.state_names) if with_state else None
    y, final, cache = ours.forward(x, state0, lengths)
    caches = layer_caches(cache)
    assert len(caches) == n and all(isinstance(c, FusedCache) for c in caches), "the fast path, ragged too"
    gy = rng.normal(size=y.shape).astype(dtype)
    gstate = tuple(rng.normal(size=s.shape).astype(dtype) for s in final)
    dx, dstate0, grads = ours.backward(gy, gstate, cache)

    ty, tfinal, tdx, tdstate0, tgrads = run_torch(theirs, x, state0, lengths, gy, gstate)
    assert_close(y, ty, dtype, "output")
    for ours_s, theirs_s in zip(final, tfinal):
        assert_close(ours_s, theirs_s, dtype, "final state")
    assert_close(dx, tdx, dtype, "dx")
    if with_state:
        for ours_s, theirs_s in zip(dstate0, tdstate0):
            assert_close(ours_s, theirs_s, dtype, "dstate0")
    converted = interop.to_torch(ours, grads)
    assert set(converted) == set(tgrads)
    for name, g in tgrads.items():
        assert_close(converted[name], g, dtype, name)


def test_round_trip_and_refusals():
    ours = rnnkit.LSTM(D, H, 2, True, seed=0)
    theirs = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True, batch_first=True)
    interop.from_torch(ours, theirs.state_dict())
    back = interop.to_torch(ours)
    for name, tensor in theirs.state_dict().items():
        np.testing.assert_array_equal(back[name], tensor.numpy())
    assert set(back) == set(theirs.state_dict())
    with pytest.raises(ValueError, match="missing.*weight_ih_l1"):
        interop.from_torch(rnnkit.LSTM(D, H, 2, True), torch.nn.LSTM(D, H, 1, bidirectional=True).state_dict())
    with pytest.raises(ValueError, match="weight_ih_l0 has shape"):
        interop.from_torch(rnnkit.LSTM(D + 1, H), torch.nn.LSTM(D, H).state_dict())
    with pytest.raises(ValueError, match="no peephole"):
        interop.to_torch(rnnkit.LSTM(D, H, peephole=True))
    with pytest.raises(ValueError, match="reset_after=True"):
        interop.to_torch(rnnkit.GRU(D, H, reset_after=False))
    with pytest.raises(ValueError, match="merge='sum'"):
        interop.to_torch(rnnkit.GRU(D, H, bidirectional=True, merge="sum"))


def test_from_torch_updates_arrays_in_place():
    ours = rnnkit.GRU(D, H)
    before = ours.params["layers.0.Wx"]
    interop.from_torch(ours, {k: v.numpy() for k, v in torch.nn.GRU(D, H).state_dict().items()})
    assert ours.params["layers.0.Wx"] is before
    assert ours.layers[0].cell.params["Wx"] is before


@pytest.mark.parametrize("kind", list(KINDS))
def test_packed_products_match_torch(kind, monkeypatch):
    """float32 at hidden 16 (G*H a multiple of 16): the compiled loops multiply by the packed Wh
    and Wh^T (asserted), 19 rows split into two blocks with tails, 2 layers, both directions."""
    pytest.importorskip("numba")
    from rnnkit.kernels import loops, packed, parallel
    if not packed.HARDWARE_FMA or rnnkit.kernels.compiled_loops() is None:
        pytest.skip("the packed products do not run here")
    monkeypatch.setitem(parallel._state, "blocks", 2)
    ours_cls, torch_cls, options = KINDS[kind]
    hidden, batch = 16, 19
    torch.manual_seed(0)
    theirs = torch_cls(D, hidden, num_layers=2, bidirectional=True, batch_first=True, **options)
    ours = ours_cls(D, hidden, 2, True, dtype=np.float32, **options)
    interop.from_torch(ours, theirs.state_dict())
    assert all(loops.panels(p, T).size and loops.panels(np.ascontiguousarray(p.T), T).size
               for name, p in ours.params.items() if name.endswith("Wh"))
    rng = np.random.default_rng(7)
    x = rng.normal(size=(batch, T, D)).astype(np.float32)
    y, final, cache = ours.forward(x)
    gy = rng.normal(size=y.shape).astype(np.float32)
    gstate = tuple(rng.normal(size=s.shape).astype(np.float32) for s in final)
    dx, _, grads = ours.backward(gy, gstate, cache)
    ty, tfinal, tdx, _, tgrads = run_torch(theirs, x, None, None, gy, gstate)
    assert_close(y, ty, np.float32, "output")
    for ours_s, theirs_s in zip(final, tfinal):
        assert_close(ours_s, theirs_s, np.float32, "final state")
    assert_close(dx, tdx, np.float32, "dx")
    converted = interop.to_torch(ours, grads)
    for name, g in tgrads.items():
        assert_close(converted[name], g, np.float32, name)


@pytest.mark.parametrize("kind", list(KINDS))
def test_to_torch_tensors_load_into_a_torch_module(kind):
    """tensors=True gives what load_state_dict takes: the torch module then computes our outputs."""
    ours_cls, torch_cls, options = KINDS[kind]
    ours = ours_cls(D, H, 2, True, dtype=np.float64, seed=4, **options)
    theirs = torch_cls(D, H, num_layers=2, bidirectional=True, batch_first=True, **options).double()
    state = interop.to_torch(ours, tensors=True)
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in state.values())
    theirs.load_state_dict(state)
    x = np.random.default_rng(0).normal(size=(B, T, D))
    y, _, _ = ours.forward(x)
    np.testing.assert_allclose(theirs(torch.tensor(x))[0].detach().numpy(), y, rtol=1e-12, atol=1e-12)
    assert isinstance(interop.to_torch(ours)["weight_ih_l0"], np.ndarray)    # the default: arrays


def test_to_torch_tensors_without_torch_says_so(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"tensors=True\) needs PyTorch"):
        interop.to_torch(rnnkit.GRU(D, H), tensors=True)
    assert set(interop.to_torch(rnnkit.GRU(D, H))) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
