"""The fused step kernels: the Numba build against the NumPy reference, and the fast path of
``Recurrent`` against its general per-step loop."""
import contextlib
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit import kernels
from rnnkit.kernels import reference

B, H = 3, 5
# Element-wise kernels (a handful of roundings per output, no long sums, the float32 tanh within
# 3e-7): a fixed bound holds on every CPU. Sums are another matter: see summed_tolerance.
TOLERANCE = {np.float32: 2e-6, np.float64: 1e-13}
EPS32 = float(np.finfo(np.float32).eps)


def summed_tolerance(dtype, terms: int, magnitude: float = 1.0, c: float = 16.0) -> float:
    """Absolute bound for outputs that are sums of ``terms`` products of size ~``magnitude``.

    Each BLAS (and NumPy's SIMD sum) adds in its own order: OpenBLAS's AVX-512 kernels block
    the sum differently from the AVX2 ones here. Rounding errors of such sums grow like a random
    walk, ~eps * sqrt(terms) * magnitude; a fixed 2e-6 held here by luck (a plain sequential
    float32 sum of test_blocked_matmul's 773 rows misses it by 1.2x) and failed on another CPU.
    float64 keeps a fixed bound: its eps leaves orders of magnitude of room."""
    if dtype == np.float64:
        return 1e-12 * max(magnitude, 1.0)
    return c * EPS32 * np.sqrt(terms) * magnitude


def compiled_or_skip():
    pytest.importorskip("numba")
    from rnnkit.kernels import compiled
    return compiled


def kernel_cases(rng, dtype):
    """Per kernel: a function of a kernel module that runs it on fixed inputs and returns every
    array it wrote."""
    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)
    a1, a3, a4, xp1, xp3, xp4 = r(B, H), r(B, 3 * H), r(B, 4 * H), r(B, H), r(B, 3 * H), r(B, 4 * H)
    b1, b3, b4, h, c, dy, dh, d2 = r(H), r(3 * H), r(4 * H), r(B, H), r(B, H), r(B, H), r(B, H), r(B, H)
    e = lambda *shape: np.zeros(shape, dtype)  # noqa: E731

    def rnn(M, act):
        h_new, da = e(B, H), e(B, H)
        M.rnn_forward(a1.copy(), xp1, b1, h_new, act)
        M.rnn_backward(dy, dh, h_new, da, act)
        return h_new, da

    def lstm(M):
        gates, c_new, h_new, tanh_c, da, dc = xp4.copy(), e(B, H), e(B, H), e(B, H), e(B, 4 * H), d2.copy()
        M.lstm_forward(a4.copy(), gates, b4, c, c_new, h_new, tanh_c)
        M.lstm_backward(dy, dh, dc, gates, c, tanh_c, da)
        return gates, c_new, h_new, tanh_c, da, dc

    def gru(M):
        gates, hp_n, h_new, dhp, dxp_n, carry = xp3.copy(), e(B, H), e(B, H), e(B, 3 * H), e(B, H), d2.copy()
        M.gru_forward(a3.copy(), gates, b3, h, hp_n, h_new)
        M.gru_backward(dy, dh, carry, gates, h, hp_n, dhp, dxp_n)
        return gates, hp_n, h_new, dhp, dxp_n, carry

    return {"rnn-tanh": lambda M: rnn(M, 0), "rnn-relu": lambda M: rnn(M, 1),
            "rnn-sigmoid": lambda M: rnn(M, 2), "lstm": lstm, "gru": gru}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["rnn-tanh", "rnn-relu", "rnn-sigmoid", "lstm", "gru"])
def test_compiled_kernels_match_reference(name, dtype):
    compiled = compiled_or_skip()
    case = kernel_cases(np.random.default_rng(0), dtype)[name]
    for ours, spec in zip(case(compiled), case(reference)):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, spec, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_float32_tanh_is_within_float_rounding():
    compiled = compiled_or_skip()
    x = np.linspace(-12, 12, 20001).astype(np.float32)
    h = np.empty_like(x)[None]
    compiled.rnn_forward(np.zeros_like(x)[None], x[None], np.zeros_like(x), h, 0)
    assert np.abs(h[0] - np.tanh(x.astype(np.float64))).max() < 3e-7
    assert np.abs(h).max() <= 1.0


NETWORKS = {
    "rnn-tanh": (rnnkit.RNN, {}), "rnn-relu": (rnnkit.RNN, {"nonlinearity": "relu"}),
    "rnn-sigmoid": (rnnkit.RNN, {"nonlinearity": "sigmoid"}), "gru": (rnnkit.GRU, {}), "lstm": (rnnkit.LSTM, {}),
}


def run_network(net, x, state0, lengths=None):
    y, state, cache = net.forward(x, state0, lengths)
    rng = np.random.default_rng(5)
    dy = rng.standard_normal(y.shape)
    dstate = tuple(rng.standard_normal(s.shape) for s in state)
    dx, dstate0, grads = net.backward(dy, dstate, cache)
    return {"y": y, **{f"state{i}": s for i, s in enumerate(state)}, "dx": dx,
            **{f"dstate0_{i}": s for i, s in enumerate(dstate0)}, **grads}


def network_and_inputs(name, dtype, bidirectional=False, hidden=H, batch=B):
    cls, options = NETWORKS[name]
    net = cls(4, hidden, num_layers=2, bidirectional=bidirectional, seed=0, dtype=dtype, **options)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, 6, 4)).astype(dtype)
    state0 = tuple(rng.standard_normal(s.shape).astype(dtype) for s in net.zero_state(batch))
    return net, x, state0


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_numba_and_numpy_backends_give_the_same_network(name, dtype):
    compiled_or_skip()
    net, x, state0 = network_and_inputs(name, dtype, bidirectional=True)
    results = {}
    for backend in ("numba", "numpy"):
        previous = kernels.set_backend(backend)
        try:
            assert kernels.backend() == backend
            results[backend] = run_network(net, x, state0)
        finally:
            kernels.set_backend(previous)
    assert_same_network(results["numba"], results["numpy"], dtype, terms=x.shape[0] * x.shape[1])


@pytest.mark.parametrize("name", list(NETWORKS))
def test_packed_weights_give_the_same_network(name, monkeypatch):
    """float32 with hidden 16 (every cell's G*H a multiple of 16): the compiled loops multiply by
    the packed Wh (checked: the panels are not empty), in blocks of rows with tails of 1-5 rows."""
    compiled_or_skip()
    from rnnkit.kernels import loops, parallel
    monkeypatch.setitem(parallel._state, "blocks", 2)
    from rnnkit.kernels.packed import HARDWARE_FMA
    if not HARDWARE_FMA:
        pytest.skip("no vector FMA here: the loops call BLAS")
    net, x, state0 = network_and_inputs(name, np.float32, bidirectional=True, hidden=16, batch=19)
    assert all(loops.panels(p, 6).size for key, p in net.params.items() if key.endswith("Wh"))
    results = {}
    for backend in ("numba", "numpy"):
        previous = kernels.set_backend(backend)
        try:
            results[backend] = run_network(net, x, state0)
        finally:
            kernels.set_backend(previous)
    assert_same_network(results["numba"], results["numpy"], np.float32, terms=x.shape[0] * x.shape[1])


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 6, 7, 13, 32])
@pytest.mark.parametrize("K, N", [(0, 16), (3, 16), (64, 48), (512, 2048)])
def test_packed_matmul(rows, K, N):
    """A @ W on the packed W: every tile height, strided rows in and out, nothing written
    outside C."""
    compiled_or_skip()
    from rnnkit.kernels.packed import pack, packed_matmul
    rng = np.random.default_rng(rows + K + N)
    A = rng.standard_normal((rows, K + 3)).astype(np.float32)[:, 1:K + 1]
    W = rng.standard_normal((K, N)).astype(np.float32)
    out = np.full((rows + 2, N + 16), np.nan, np.float32)
    packed_matmul(A, pack(W), out[1:rows + 1, 8:N + 8])
    expected = A.astype(np.float64) @ W
    np.testing.assert_allclose(out[1:rows + 1, 8:N + 8], expected, rtol=0, atol=2e-6 * max(np.sqrt(K), 1) * 4)
    assert np.isnan(out[0]).all() and np.isnan(out[-1]).all()
    assert np.isnan(out[:, :8]).all() and np.isnan(out[:, N + 8:]).all()


def test_panels_only_where_they_apply(monkeypatch):
    compiled_or_skip()
    from rnnkit.kernels import loops, packed
    monkeypatch.setattr(packed, "HARDWARE_FMA", True)
    assert loops.panels(np.ones((4, 32), np.float32), 2).shape == (2, 4, 16)
    assert loops.panels(np.ones((4, 24), np.float32), 2).size == 0      # columns not a multiple of 16
    assert loops.panels(np.ones((4, 32), np.float64), 2).size == 0      # the kernel is float32
    assert loops.panels(np.ones((4, 32), np.float32), 1).size == 0   # one step: BLAS packs once anyway
    monkeypatch.setattr(packed, "HARDWARE_FMA", False)
    assert loops.panels(np.ones((4, 32), np.float32), 2).size == 0   # fma would be a library call


@contextlib.contextmanager
def general_loop():
    """Inside, the built-in cells declare no compiled kernel: ``Recurrent`` runs its general
    per-step loop over ``cell.step`` (the definition the fast path is held to)."""
    from rnnkit.cells import GRUCell, LSTMCell, RNNCell
    with pytest.MonkeyPatch.context() as patch:
        for cls in (RNNCell, GRUCell, LSTMCell):
            patch.setattr(cls, "fast_kernel", property(lambda self: None))
        yield


def recurrent_caches(cache):
    """Every ``Recurrent`` layer's cache inside a network's cache."""
    from rnnkit.layers.fused import FusedCache
    from rnnkit.layers.recurrent import RecurrentCache
    if isinstance(cache, (FusedCache, RecurrentCache)):
        yield cache
    elif isinstance(cache, (tuple, list)):
        for part in cache:
            yield from recurrent_caches(part)


def on_fast_path(net, x, lengths=None):
    from rnnkit.layers.fused import FusedCache
    caches = list(recurrent_caches(net.forward(x, lengths=lengths)[2]))
    return bool(caches) and all(isinstance(c, FusedCache) for c in caches)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_fused_path_equals_general_loop(name):
    """Full lengths: the fast path against the general loop on the same batch: same numbers."""
    net, x, state0 = network_and_inputs(name, np.float64, bidirectional=True)
    assert on_fast_path(net, x)
    fast = run_network(net, x, state0)
    with general_loop():
        assert not on_fast_path(net, x)
        general = run_network(net, x, state0)
    for k, v in fast.items():
        np.testing.assert_allclose(v, general[k], rtol=1e-12, atol=1e-13, err_msg=k)


def test_backend_choice_is_checked():
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.set_backend("cuda")
    previous = kernels.set_backend("numpy")
    try:
        assert kernels.get("lstm_forward") is reference.lstm_forward
    finally:
        kernels.set_backend(previous)


def test_import_does_not_load_numba():
    code = "import sys, rnnkit; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_cell_step_same_with_either_backend(name, dtype):
    """``cell.step`` (generation) runs the product and the kernel in one compiled call."""
    compiled_or_skip()
    net, x, state0 = network_and_inputs(name, dtype)
    cell = net.layers[0].cell
    xp = cell.project_inputs(x[:, 0])
    state = tuple(s[0] for s in state0)
    results = {}
    for backend in ("numba", "numpy"):
        previous = kernels.set_backend(backend)
        try:
            results[backend] = cell.step(xp, state)
        finally:
            kernels.set_backend(previous)
    (new_a, cache_a), (new_b, cache_b) = results["numba"], results["numpy"]
    for a, b in zip(new_a + cache_a, new_b + cache_b):
        if a is not None:
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE[dtype] * 4)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_batch_split_over_threads_equals_general_loop(name, monkeypatch):
    """A batch large enough to run as blocks of rows in parallel threads."""
    from rnnkit.kernels import parallel
    monkeypatch.setitem(parallel._state, "blocks", 3)
    cls, options = NETWORKS[name]
    net = cls(4, H, seed=0, dtype=np.float64, **options)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4 * parallel.MIN_ROWS, 5, 4))
    state0 = tuple(rng.standard_normal(s.shape) for s in net.zero_state(x.shape[0]))
    fast = run_network(net, x, state0)
    with general_loop():
        general = run_network(net, x, state0)
    for k, v in fast.items():
        np.testing.assert_allclose(v, general[k], rtol=1e-12, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_blocked_matmul(dtype, transpose_a, backend, monkeypatch):
    """Blocks in Numba's threads (numba) or a Python pool (numpy): a @ b, a @ W.T, a.T @ b."""
    from rnnkit.kernels import parallel
    if backend == "numba":
        compiled_or_skip()
    monkeypatch.setitem(parallel._state, "blocks", 3)
    previous = kernels.set_backend(backend)
    try:
        rng = np.random.default_rng(3)
        a = rng.standard_normal((3 * parallel.MIN_PRODUCT_ROWS + 5, 7)).astype(dtype)
        for b in ([rng.standard_normal((a.shape[0], 4)).astype(dtype)] if transpose_a else
                  [rng.standard_normal((7, 4)).astype(dtype), rng.standard_normal((4, 7)).astype(dtype).T]):
            expected = a.T @ b if transpose_a else a @ b
            got = parallel.matmul(a, b, transpose_a).copy()
            terms = a.shape[0] if transpose_a else a.shape[1]       # the length of each sum
            # c = 2: a sequential float32 order (the worst plausible) reaches 0.18 of this
            tol = summed_tolerance(dtype, terms, np.abs(expected).max(), c=2.0)
            np.testing.assert_allclose(got, expected, rtol=0, atol=tol)
            np.testing.assert_array_equal(got, parallel.matmul(a, b, transpose_a))  # same bits every call
    finally:
        kernels.set_backend(previous)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_blocked_column_sums(dtype, backend, monkeypatch):
    """Bias gradients: a.sum(axis=0) in blocks of rows; both backends give the same bits."""
    from rnnkit.kernels import parallel
    if backend == "numba":
        compiled_or_skip()
    monkeypatch.setitem(parallel._state, "blocks", 3)
    a = np.random.default_rng(6).standard_normal((3 * parallel.MIN_PRODUCT_ROWS + 5, 9)).astype(dtype)
    edges = parallel.row_edges(len(a), parallel.MIN_PRODUCT_ROWS)
    in_order = sum(a[lo:hi].sum(axis=0) for lo, hi in zip(edges[:-1], edges[1:]))
    previous = kernels.set_backend(backend)
    try:
        np.testing.assert_array_equal(parallel.column_sums(a), in_order)
    finally:
        kernels.set_backend(previous)
    tol = summed_tolerance(dtype, len(a), np.sqrt(len(a)), c=2.0)   # sums of N(0, 1): ~sqrt(N)
    np.testing.assert_allclose(in_order, a.sum(axis=0), rtol=0, atol=tol)


def test_blas_threads_are_as_they_were_after_parallel_blocks(monkeypatch):
    """The blocks run with one BLAS thread each and put the caller's count back afterwards, also
    when a block raises (the setting is process-wide in NumPy's OpenBLAS)."""
    from rnnkit.kernels import blas, parallel
    lib = blas.numpy_openblas()
    if parallel._local_threads() is None or blas.threads(lib) is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with a thread setting")
    monkeypatch.setitem(parallel._state, "blocks", 2)
    before = blas.threads(lib)
    seen = []
    parallel.for_row_blocks(lambda lo, hi: seen.append(blas.threads(lib)), 4 * parallel.MIN_ROWS)
    assert seen == [1, 1] and blas.threads(lib) == before

    def fails(lo, hi):
        if lo > 0:
            raise RuntimeError("block failed")
    with pytest.raises(RuntimeError, match="block failed"):
        parallel.for_row_blocks(fails, 4 * parallel.MIN_ROWS)
    assert blas.threads(lib) == before
    net = rnnkit.LSTM(3, 4, seed=0)
    y, _, cache = net.forward(np.ones((4 * parallel.MIN_ROWS, 2, 3), np.float32))
    net.backward(y, None, cache)
    assert blas.threads(lib) == before


@pytest.mark.parametrize("transpose_a", [False, True])
def test_small_products_use_one_blas_thread(transpose_a, monkeypatch):
    """A product too small to split runs on one BLAS thread: OpenBLAS's own threads keep spinning
    after a call and halve the speed of a compiled loop that starts meanwhile (5-8x slower small
    training steps, measured). The caller's setting is back afterwards."""
    from rnnkit.kernels import blas, parallel
    lib = blas.numpy_openblas()
    if parallel._local_threads() is None or blas.threads(lib) is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with a thread setting")
    seen, matmul = [], np.matmul

    def recording(*args, **kwargs):
        seen.append(blas.threads(lib))
        return matmul(*args, **kwargs)
    monkeypatch.setattr(parallel.np, "matmul", recording)
    parallel._local_threads()(2)
    a, b = np.ones((8, 3), np.float32), np.ones((8 if transpose_a else 3, 5), np.float32)
    np.testing.assert_array_equal(parallel.matmul(a, b, transpose_a), 8 if transpose_a else 3)
    assert seen == [1] and blas.threads(lib) == 2


@pytest.mark.parametrize("name", list(NETWORKS))
def test_batch_of_one_uses_matrix_vector_products(name):
    """One row goes through gemv in the compiled loops and steps: same numbers as NumPy."""
    compiled_or_skip()
    cls, options = NETWORKS[name]
    net = cls(4, H, seed=0, dtype=np.float64, **options)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 5, 4))
    state0 = tuple(rng.standard_normal(s.shape) for s in net.zero_state(1))
    cell = net.layers[0].cell
    results = {}
    for backend in ("numba", "numpy"):
        previous = kernels.set_backend(backend)
        try:
            step = cell.step(cell.project_inputs(x[:, 0]), tuple(s[0] for s in state0))[0]
            results[backend] = {**run_network(net, x, state0), "step": step[0]}
        finally:
            kernels.set_backend(previous)
    for k, v in results["numpy"].items():
        np.testing.assert_allclose(results["numba"][k], v, rtol=1e-12, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("batch, steps", [(1, 5), (3, 1), (3, 5)])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_backward_leaves_the_callers_gradient_alone(name, batch, steps):
    """The RNN's fast path writes its ``da`` over the time-major copy of dy; with one row or one
    step that "copy" is the caller's own array, which must not change."""
    cls, options = NETWORKS[name]
    net = cls(4, H, seed=0, dtype=np.float64, **options)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, steps, 4))
    y, _, cache = net.forward(x)
    dy = rng.standard_normal(y.shape)
    kept = dy.copy()
    dx_first = net.backward(dy, None, cache)[0]
    np.testing.assert_array_equal(dy, kept)
    np.testing.assert_array_equal(net.backward(dy, None, cache)[0], dx_first)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_compiled_softmax_xent_matches_reference(dtype):
    compiled = compiled_or_skip()
    rng = np.random.default_rng(0)
    N, V = 300, 37
    rows = (rng.standard_normal((N, V)) * 30).astype(dtype)
    rows[:50] -= 1e4                      # far below zero: the shift by the row maximum matters
    rows[50:60, 5] = 80                   # one dominant class: the others' exp underflow
    target = rng.integers(0, V, N).astype(np.intp)
    target[50:55] = 5
    weight = rng.uniform(0, 2, N).astype(dtype)
    weight[::7] = 0
    dx, dx_spec = np.empty_like(rows), np.empty_like(rows)
    loss = compiled.softmax_xent(rows, target, weight, dx)
    spec = reference.softmax_xent(rows, target, weight, dx_spec)
    np.testing.assert_allclose(loss, spec, rtol=TOLERANCE[dtype])
    np.testing.assert_allclose(dx, dx_spec, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert dx.dtype == dtype


def test_float32_exp_is_within_float_rounding():
    """The compiled float32 exp, seen through softmax over [0, x]: p(x) = e^x / (1 + e^x)."""
    compiled = compiled_or_skip()
    x = np.linspace(-86, 0, 20001).astype(np.float32)
    rows = np.stack([np.zeros_like(x), x], axis=1)
    dx = np.empty_like(rows)
    compiled.softmax_xent(rows, np.zeros(len(x), np.intp), np.ones(len(x), np.float32), dx)
    exact = np.exp(x.astype(np.float64)) / (1 + np.exp(x.astype(np.float64)))
    assert (np.abs(dx[:, 1] - exact) / exact).max() < 1e-6


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_runs_networks(monkeypatch):
    """A child forked after the parent ran parallel blocks (GNU OpenMP aborts such a child if it
    starts a parallel region) gets the parent's numbers, from the Python pool."""
    from rnnkit.kernels import parallel
    monkeypatch.setitem(parallel._state, "blocks", 2)
    net = rnnkit.LSTM(3, 8, seed=0)
    x = np.random.default_rng(5).standard_normal((8 * parallel.MIN_ROWS, 5, 3)).astype(np.float32)
    y0 = net.forward(x)[0]
    pid = os.fork()
    if pid == 0:                                           # the child: no pytest from here on
        try:
            same = parallel._state.get("forked") and np.array_equal(net.forward(x)[0], y0)
        finally:
            os._exit(0 if same else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_networks_run_from_two_python_threads_at_once(monkeypatch):
    """Two threads launching parallel regions together (a server answering two requests) get
    the numbers each gets alone."""
    import threading
    from rnnkit.kernels import parallel
    monkeypatch.setitem(parallel._state, "blocks", 2)
    nets = [rnnkit.LSTM(3, 16, seed=0), rnnkit.GRU(3, 16, seed=1)]
    xs = [np.random.default_rng(k).standard_normal((8 * parallel.MIN_ROWS, 20, 3)).astype(np.float32)
          for k in range(2)]
    alone = [net.forward(x)[0].copy() for net, x in zip(nets, xs)]
    together, errors = [None, None], []

    def run(k):
        try:
            for _ in range(20):
                together[k] = nets[k].forward(xs[k])[0].copy()
        except Exception as error:                 # noqa: BLE001 (reported below)
            errors.append(error)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for k in range(2):
        np.testing.assert_array_equal(together[k], alone[k])


def test_blocks_use_numba_regions_where_openmp_loads():
    """Not a silent fallback: with Numba's OpenMP layer importable, the blocks run in Numba's
    regions rather than the (150-290 us per hand-off) Python pool."""
    compiled_or_skip()
    from rnnkit.kernels import parallel
    if kernels.compiled_loops() is None or parallel._state.get("forked"):
        pytest.skip("no compiled loops here")
    if os.environ.get("NUMBA_THREADING_LAYER", "default") not in ("default", "omp", "threadsafe"):
        pytest.skip("another Numba threading layer was asked for")
    try:
        importlib.import_module("numba.np.ufunc.omppool")
    except ImportError:
        pytest.skip("Numba's OpenMP layer does not load here")
    assert parallel.numba_regions() is not None


# -- which cells the fast path runs: each cell's own declaration --------------------------------

def _cells():
    from rnnkit.cells import GRUCell, LSTMCell, RNNCell

    class HalvedOutput(LSTMCell):
        """Other equations (h' halved), the same parameters: must not run the LSTM kernel."""
        def step(self, xp, state):
            (h, c), cache = super().step(xp, state)
            return (0.5 * h, c), cache

    class OtherBackward(GRUCell):
        def step_backward(self, dstate, cache):
            return super().step_backward(dstate, cache)

    class ExtraParameter(RNNCell):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.params["scale"] = np.ones(self.hidden_size, self.dtype)

    class OpenForget(LSTMCell):
        """Only the initialisation differs: the same equations, so the same kernel."""
        def __init__(self, *args, **kwargs):
            super().__init__(*args, forget_bias=1.0, **kwargs)

    return RNNCell, GRUCell, LSTMCell, HalvedOutput, OtherBackward, ExtraParameter, OpenForget


def test_cells_declare_their_kernel_and_subclasses_with_other_equations_do_not_inherit_it():
    RNNCell, GRUCell, LSTMCell, HalvedOutput, OtherBackward, ExtraParameter, OpenForget = _cells()
    from rnnkit.cells.base import Cell
    declared = {
        "rnn": RNNCell(3, 4), "rnn relu": RNNCell(3, 4, nonlinearity="relu"), "gru": GRUCell(3, 4),
        "lstm": LSTMCell(3, 4), "open forget": OpenForget(3, 4),
    }
    assert {k: c.fast_kernel for k, c in declared.items()} == {
        "rnn": "rnn", "rnn relu": "rnn", "gru": "gru", "lstm": "lstm", "open forget": "lstm"}
    for cell in (LSTMCell(3, 4, peephole=True), GRUCell(3, 4, reset_after=False), GRUCell(3, 4, reset_gate=False),
                 HalvedOutput(3, 4), OtherBackward(3, 4), ExtraParameter(3, 4)):
        assert cell.fast_kernel is None, repr(cell)
    assert Cell.fast_kernel.fget(LSTMCell(3, 4)) is None          # the base class declares nothing


def test_a_subclass_with_other_equations_runs_its_own_step():
    """Not the LSTM kernel under an LSTM's name: the layer loops over the subclass's step."""
    from rnnkit.layers.fused import FusedCache
    from rnnkit.layers.recurrent import Recurrent
    *_, HalvedOutput, _, _, OpenForget = _cells()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3))
    cell = HalvedOutput(3, 4, dtype=np.float64, seed=0)
    y, _, cache = Recurrent(cell).forward(x)
    assert not isinstance(cache, FusedCache)
    state = cell.zero_state(2)
    for t in range(4):
        state, _ = cell.step(cell.project_inputs(x[:, t]), state)
        np.testing.assert_allclose(y[:, t], state[0], rtol=1e-13, atol=1e-14)
    assert isinstance(Recurrent(OpenForget(3, 4, dtype=np.float64)).forward(x)[2], FusedCache)


def test_fused_module_names_no_concrete_cell():
    import inspect
    from rnnkit.layers import fused
    source = inspect.getsource(fused)
    assert not [name for name in ("RNNCell", "LSTMCell", "GRUCell") if name in source]


# -- ragged batches (lengths) on the fast path ---------------------------------------------------

def ragged_case(name, dtype, bidirectional, batch=19, steps=7):
    """A 2-layer network and a batch of ``batch`` rows (with 3 blocks: 6, 6 and 7 rows, so blocks
    end in tails of the packed product) whose lengths run from 1 to T, padding full of junk."""
    cls, options = NETWORKS[name]
    net = cls(4, H, num_layers=2, bidirectional=bidirectional, seed=0, dtype=dtype, **options)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((batch, steps, 4)).astype(dtype)
    lengths = rng.integers(1, steps + 1, batch)
    lengths[:3] = [steps, 1, steps]
    for b, L in enumerate(lengths):
        x[b, L:] = 50.0
    state0 = tuple(rng.standard_normal(s.shape).astype(dtype) for s in net.zero_state(batch))
    return net, x, lengths, state0


def assert_same_network(fast, general, dtype, terms):
    """float64: to rounding. float32: both paths round every product and sum in their own order
    (blocked threads, packed or BLAS products, and in the numba kernels a tanh within 3e-7), so
    the bound grows with the terms summed (:func:`summed_tolerance`; the ragged tests reach 0.42
    of it), relative to each output's magnitude."""
    for k, v in general.items():
        scale = max(np.abs(v).max(), 1.0)
        np.testing.assert_allclose(fast[k] / scale, v / scale, rtol=0, atol=summed_tolerance(dtype, terms),
                                   err_msg=k)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_ragged_batch_on_fast_path_equals_general_loop(name, bidirectional, dtype, backend, monkeypatch):
    """Outputs, final states, dx, the initial state's gradient and every weight gradient of a
    ragged batch: the fast path (rows sorted into 3 blocks) against the masked per-step loop."""
    from rnnkit.kernels import parallel
    if backend == "numba":
        compiled_or_skip()
    monkeypatch.setitem(parallel._state, "blocks", 3)
    net, x, lengths, state0 = ragged_case(name, dtype, bidirectional)
    previous = kernels.set_backend(backend)
    try:
        assert on_fast_path(net, x, lengths)
        fast = run_network(net, x, state0, lengths)
        with general_loop():
            general = run_network(net, x, state0, lengths)
    finally:
        kernels.set_backend(previous)
    assert all(np.all(fast["y"][b, L:] == 0) for b, L in enumerate(lengths)), "outputs at padding are zero"
    assert all(np.all(fast["dx"][b, L:] == 0) for b, L in enumerate(lengths)), "padding gets no gradient"
    assert_same_network(fast, general, dtype, terms=x.shape[0] * x.shape[1])


@pytest.mark.parametrize("name", list(NETWORKS))
def test_ragged_backward_on_the_other_backend(name, monkeypatch):
    """A cache from the compiled loops (3 sorted blocks) read back by the Python loops, and one
    from the Python loops (one block) by the compiled: the blocks travel with the cache."""
    compiled_or_skip()
    from rnnkit.kernels import parallel
    monkeypatch.setitem(parallel._state, "blocks", 3)
    net, x, lengths, state0 = ragged_case(name, np.float64, True)
    with general_loop():
        general = run_network(net, x, state0, lengths)
    for first, second in (("numba", "numpy"), ("numpy", "numba")):
        previous = kernels.set_backend(first)
        try:
            y, state, cache = net.forward(x, state0, lengths)
            kernels.set_backend(second)
            rng = np.random.default_rng(5)
            dy = rng.standard_normal(y.shape)
            dstate = tuple(rng.standard_normal(s.shape) for s in state)
            dx, _, grads = net.backward(dy, dstate, cache)
        finally:
            kernels.set_backend(previous)
        np.testing.assert_allclose(dx, general["dx"], rtol=1e-12, atol=1e-13)
        for k in grads:
            np.testing.assert_allclose(grads[k], general[k], rtol=1e-12, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_ragged_fast_path_finite_differences(name, backend, monkeypatch):
    """float64 gradients of a ragged batch in two blocks, on the fast path, by finite differences
    (every parameter, the input and the initial state; a non-zero final-state gradient)."""
    from rnnkit.gradcheck import gradcheck
    from rnnkit.kernels import parallel
    if backend == "numba":
        compiled_or_skip()
    monkeypatch.setitem(parallel._state, "blocks", 2)
    net, x, lengths, state0 = ragged_case(name, np.float64, True, batch=9, steps=5)
    rng = np.random.default_rng(3)
    previous = kernels.set_backend(backend)
    try:
        assert on_fast_path(net, x, lengths)
        y, state, cache = net.forward(x, state0, lengths)
        gy, gs = rng.standard_normal(y.shape), tuple(rng.standard_normal(s.shape) for s in state)

        def loss():
            y, s, _ = net.forward(x, state0, lengths)
            return (y * gy).sum() + sum((a * b).sum() for a, b in zip(s, gs))
        dx, dstate0, grads = net.backward(gy, gs, cache)
        arrays = {**net.params, "x": x, **{f"state{i}": s for i, s in enumerate(state0)}}
        analytic = {**grads, "x": dx, **{f"state{i}": s for i, s in enumerate(dstate0)}}
        errors = gradcheck(loss, arrays, analytic, max_entries=30)
    finally:
        kernels.set_backend(previous)
    assert max(errors.values()) < 1e-6, errors


def test_rows_are_sorted_within_balanced_blocks():
    from rnnkit.layers.fused import arrange_rows
    lengths = np.array([3, 9, 1, 9, 4, 7, 2, 8, 5, 6, 9])
    edges = np.array([0, 3, 7, 11])                      # blocks of 3, 4 and 4 rows
    rows = arrange_rows(lengths, 11, 9, edges)
    assert sorted(rows.order.tolist()) == list(range(11))
    np.testing.assert_array_equal(rows.steps, lengths[rows.order])
    np.testing.assert_array_equal(rows.order[rows.inverse], np.arange(11))
    blocks = [rows.steps[lo:hi] for lo, hi in zip(edges[:-1], edges[1:])]
    assert all((np.diff(b) <= 0).all() for b in blocks), blocks
    # dealt round-robin: each block has one of the three longest, and about the same total
    assert [b[0] for b in blocks] == [9, 9, 9]
    assert max(b.sum() for b in blocks) - min(b.sum() for b in blocks) <= 9
    full = arrange_rows(np.full(11, 9), 11, 9, edges)
    assert full.order is None and (full.steps == 9).all()   # full length: the caller's order


def _computes(node) -> bool:
    """Whether an expression does arithmetic (indexing, such as ``g[H:2 * H]``, does not count)."""
    import ast
    if isinstance(node, ast.Subscript):
        return _computes(node.value)
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "multiply", "add", "subtract", "divide"):
        return True
    return any(_computes(child) for child in ast.iter_child_nodes(node))


@pytest.mark.parametrize("module", ["compiled", "reference"])
def test_every_backward_line_names_the_equation_it_inverts(module):
    """STYLE.md: in a backward pass each line says which forward equation it inverts; a kernel's
    line without one is a line nobody can check by eye."""
    import ast
    import inspect
    if module == "compiled":
        compiled_or_skip()
    source = inspect.getsource(importlib.import_module(f"rnnkit.kernels.{module}"))
    lines = source.splitlines()
    functions = [f for f in ast.walk(ast.parse(source))
                 if isinstance(f, ast.FunctionDef) and f.name.endswith("_backward")]
    assert len(functions) == 3
    unlabelled = []
    for function in functions:
        for node in ast.walk(function):
            if isinstance(node, ast.AugAssign) or (isinstance(node, (ast.Assign, ast.Expr)) and _computes(node.value)):
                text = lines[node.lineno - 1:node.end_lineno]
                if not any("#" in line for line in text):
                    unlabelled.append(f"{function.name}: {text[0].strip()}")
    assert not unlabelled, unlabelled
