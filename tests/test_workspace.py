"""The reused memory of rnnkit.kernels.workspace: a block is handed out again only when no array
refers to it, and training results do not depend on whether memory was reused."""
import numpy as np
import pytest

import rnnkit
from rnnkit.kernels import workspace

BIG = (512, 1024)          # 2 MB of float32, above MIN_BYTES


@pytest.fixture(autouse=True)
def fresh_workspace():
    workspace.release()
    yield
    workspace.release()


def test_a_dropped_array_is_reused_and_a_held_one_is_not():
    a = workspace.empty(BIG, np.float32)
    address = a.ctypes.data
    b = workspace.empty(BIG, np.float32)
    assert b.ctypes.data != address
    del a
    c = workspace.empty(BIG, np.float32)
    assert c.ctypes.data == address
    assert c.shape == BIG and c.dtype == np.float32 and c.flags.c_contiguous


def test_a_view_keeps_its_block_in_use():
    a = workspace.empty(BIG, np.float32)
    address = a.ctypes.data
    view = a[100:].T
    del a
    b = workspace.empty(BIG, np.float32)
    assert b.ctypes.data != address
    view[...] = 1.0
    assert (b.ctypes.data, view.sum()) != (address, 0)   # writing through the view is safe


def test_a_block_serves_a_smaller_array_of_another_dtype_but_not_a_much_smaller_one():
    a = workspace.empty(BIG, np.float32)
    address = a.ctypes.data
    del a
    b = workspace.empty((BIG[0] * BIG[1] * 4 // 8 - 8,), np.float64)   # a little smaller
    assert b.ctypes.data == address and b.dtype == np.float64
    del b
    c = workspace.empty((BIG[0] // 4, BIG[1]), np.float32)             # a quarter: its own block
    assert c.ctypes.data != address


def test_small_arrays_bypass_the_workspace_and_release_frees_what_is_unused():
    small = workspace.empty((10, 10), np.float32)
    assert workspace.held_bytes() == 0 and small.shape == (10, 10)
    kept = workspace.empty(BIG, np.float32)
    dropped = workspace.empty(BIG, np.float32)
    del dropped
    assert workspace.held_bytes() == 2 * kept.nbytes
    workspace.release()
    assert workspace.held_bytes() == kept.nbytes


def test_the_limit_gives_back_free_blocks(monkeypatch):
    monkeypatch.setenv("RNNKIT_WORKSPACE_MB", "3")
    for _ in range(5):                        # each dropped at once: one block is enough
        workspace.empty(BIG, np.float32)
    assert workspace.held_bytes() == 2 << 20
    held = [workspace.empty(BIG, np.float32) for _ in range(3)]   # in use: kept beyond the limit
    assert workspace.held_bytes() == 3 * (2 << 20)
    del held
    workspace.empty((4 << 20,), np.uint8)     # a new block: free ones go to stay under the limit
    assert workspace.held_bytes() == 4 << 20


def test_many_held_arrays_are_forgotten_not_scanned():
    held = [workspace.empty(BIG, np.float32) for _ in range(workspace.MAX_BLOCKS + 10)]
    assert len(workspace._blocks) == workspace.MAX_BLOCKS
    for k, a in enumerate(held):
        a[...] = k                              # each still its own memory
    assert [int(a[0, 0]) for a in held] == list(range(len(held)))


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.GRU, rnnkit.LSTM])
def test_caches_held_at_once_give_the_gradients_of_separate_runs(cls):
    """Two forward passes whose caches are alive together, backward in the other order, must
    give what each gives on its own: nothing one pass holds is handed to the other."""
    net = cls(16, 256, num_layers=2, seed=0)
    rng = np.random.default_rng(0)
    x1, x2 = (rng.standard_normal((32, 40, 16)).astype(np.float32) for _ in range(2))
    dy = rng.standard_normal((32, 40, 256)).astype(np.float32)

    def alone(x):
        y, _, cache = net.forward(x, training=True)
        dx, _, grads = net.backward(dy, None, cache)
        return y.copy(), dx.copy(), {k: g.copy() for k, g in grads.items()}

    expected = [alone(x1), alone(x2)]
    y1, _, cache1 = net.forward(x1, training=True)
    y2, _, cache2 = net.forward(x2, training=True)
    dx2, _, grads2 = net.backward(dy, None, cache2)
    dx1, _, grads1 = net.backward(dy, None, cache1)
    for (y, dx, grads), (y_e, dx_e, grads_e) in zip([(y1, dx1, grads1), (y2, dx2, grads2)], expected):
        np.testing.assert_array_equal(y, y_e)
        np.testing.assert_array_equal(dx, dx_e)
        for k in grads_e:
            np.testing.assert_array_equal(grads[k], grads_e[k])
