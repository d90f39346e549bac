"""``C = A @ W`` for float32 with W packed once, for the per-step products of the compiled loops.

Each step of a recurrence multiplies a few rows of h by the same weight Wh. BLAS repacks all of
Wh into its own panel layout on every call: for a thread's 32 rows at H = 512 (32 x 512 x 2048)
that copy is about a third of the call (OpenBLAS, one thread: 1.05 ms for 32 rows, 1.73 ms for
64, so ~0.38 ms per call is not arithmetic). Here Wh is packed once per sequence into panels of
16 columns, ``P: (N / 16, K, 16)``, and a register-blocked kernel multiplies 6 rows by one panel
at a time: 12 eight-wide accumulators, per k two vector loads of the panel, six broadcasts of A
and twelve fused multiply-adds. Measured on this machine (Zen 3, one thread, 30 x 512 x 2048):
91-97 GF/s against OpenBLAS's 56-62; two threads of 30 rows at once, per step: 0.81-0.89 ms
against 1.21-1.55.

Numba does not vectorise such a tile on its own (the loop vectoriser takes the k loop instead and
spills), so the kernel is written in LLVM IR through ``numba.extending.intrinsic``: vector types
and ``llvm.fma`` explicitly, compiled and cached with the functions that call it. Each output is
summed over k in order with one rounding per fused multiply-add, so a row's result does not
depend on how the rows are blocked; it differs from BLAS's in the last bits.
"""
from __future__ import annotations

import platform

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import workspace
from .compiled import jit

NR = 16       # panel width: two 8-float vectors
MR = 6        # rows per tile: 12 accumulators + 2 panel vectors + 1 broadcast = 15 of 16 registers


def pack(W: np.ndarray) -> np.ndarray:
    """(K, N) float32 with N a multiple of 16 -> ``P: (N / 16, K, 16)``, ``P[j, k] = W[k, 16 j:16 j + 16]``,
    64-byte aligned (each panel row is one cache line)."""
    K, N = W.shape
    buffer = workspace.empty(K * N + 16, np.float32)   # reused memory: a fresh 4 MB costs page faults
    start = (-buffer.ctypes.data % 64) // 4
    P = buffer[start:start + K * N].reshape(N // NR, K, NR)
    np.copyto(P, W.reshape(K, N // NR, NR).transpose(1, 0, 2))
    return P


def _hardware_fma() -> bool:
    """Whether Numba compiles for a CPU with vector fused multiply-adds. Elsewhere (an x86 without
    AVX2/FMA, or ``NUMBA_CPU_NAME`` set to a generic CPU for portable caches) ``llvm.fma`` becomes
    a library call per element, many times slower than BLAS: the loops then keep calling BLAS."""
    if numba.config.CPU_NAME not in (None, "host"):
        return False
    if platform.machine().lower() in ("aarch64", "arm64"):
        return True
    try:
        features = llvm.get_host_cpu_features()
    except RuntimeError:          # LLVM cannot tell on this host: do not guess
        return False
    return bool(features.get("fma") and features.get("avx2"))


HARDWARE_FMA = _hardware_fma()


def packable(W: np.ndarray) -> bool:
    """Whether :func:`packed_matmul` can multiply by W, and pays on this CPU."""
    return (HARDWARE_FMA and W.dtype == np.float32 and W.ndim == 2 and W.shape[1] % NR == 0
            and W.shape[1] > 0)


def _tile(rows: int):
    """An intrinsic ``tile(a, lda, p, c, ldc, K)``: ``C[:rows, :16] = A[:rows, :K] @ panel``, with
    a, p, c the addresses of A's, the panel's and C's first elements and lda, ldc row strides in
    elements (float32)."""

    @intrinsic
    def tile(typingctx, a, lda, p, c, ldc, K):
        def codegen(context, builder, signature, args):
            a, lda, p, c, ldc, K = args
            f32, i32, i64 = ir.FloatType(), ir.IntType(32), ir.IntType(64)
            v8 = ir.VectorType(f32, 8)
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v8, [v8, v8, v8]),
                                                 "llvm.fma.v8f32")
            a, p, c = (builder.inttoptr(v, ir.PointerType()) for v in (a, p, c))
            zero, undef = ir.Constant(v8, [0.0] * 8), ir.Constant(v8, ir.Undefined)
            splat = ir.Constant(ir.VectorType(i32, 8), [0] * 8)

            def at(base, index):
                return builder.gep(base, [index], source_etype=f32, inbounds=True)

            entry = builder.block
            loop, done = builder.append_basic_block("tile.loop"), builder.append_basic_block("tile.done")
            builder.cbranch(builder.icmp_signed(">", K, ir.Constant(i64, 0)), loop, done)

            builder.position_at_end(loop)              # for k in range(K): acc += A[:, k] * P[k]
            k = builder.phi(i64)
            acc = [builder.phi(v8) for _ in range(2 * rows)]
            panel_k = at(p, builder.mul(k, ir.Constant(i64, NR)))
            b = [builder.load(panel_k, typ=v8, align=4),
                 builder.load(at(panel_k, ir.Constant(i64, 8)), typ=v8, align=4)]
            new = []
            for i in range(rows):
                x = builder.load(at(a, builder.add(builder.mul(ir.Constant(i64, i), lda), k)), typ=f32, align=4)
                x = builder.shuffle_vector(builder.insert_element(undef, x, ir.Constant(i32, 0)), undef, splat)
                new += [builder.call(fma, [x, b[0], acc[2 * i]]), builder.call(fma, [x, b[1], acc[2 * i + 1]])]
            k_next = builder.add(k, ir.Constant(i64, 1))
            k.add_incoming(ir.Constant(i64, 0), entry)
            k.add_incoming(k_next, loop)
            for phi, value in zip(acc, new):
                phi.add_incoming(zero, entry)
                phi.add_incoming(value, loop)
            builder.cbranch(builder.icmp_signed("<", k_next, K), loop, done)

            builder.position_at_end(done)              # C[:rows, :16] = acc
            sums = []
            for value in new:
                phi = builder.phi(v8)
                phi.add_incoming(zero, entry)
                phi.add_incoming(value, loop)
                sums.append(phi)
            for i in range(rows):
                row = builder.mul(ir.Constant(i64, i), ldc)
                builder.store(sums[2 * i], at(c, row), align=4)
                builder.store(sums[2 * i + 1], at(c, builder.add(row, ir.Constant(i64, 8))), align=4)
            return context.get_dummy_value()

        return types.void(a, lda, p, c, ldc, K), codegen

    return tile


_tile1, _tile2, _tile3, _tile4, _tile5, _tile6 = (_tile(r) for r in range(1, MR + 1))


@jit
def packed_matmul(A, P, C):
    """``C = A @ W`` for A ``(M, K)``, C ``(M, N)`` (float32, rows contiguous, any row strides) and
    ``P = pack(W)``."""
    M, K = A.shape
    lda, ldc = A.strides[0] // 4, C.strides[0] // 4
    a, c = A.ctypes.data, C.ctypes.data
    tail = M - M % MR
    for j in range(P.shape[0]):                   # one panel (32 KB at K = 512) stays in L1 for all rows
        p, cj = P[j].ctypes.data, c + 4 * NR * j
        for i in range(0, tail, MR):
            _tile6(a + 4 * lda * i, lda, p, cj + 4 * ldc * i, ldc, K)
        rest, at, ct = M - tail, a + 4 * lda * tail, cj + 4 * ldc * tail
        if rest == 1:
            _tile1(at, lda, p, ct, ldc, K)
        elif rest == 2:
            _tile2(at, lda, p, ct, ldc, K)
        elif rest == 3:
            _tile3(at, lda, p, ct, ldc, K)
        elif rest == 4:
            _tile4(at, lda, p, ct, ldc, K)
        elif rest == 5:
            _tile5(at, lda, p, ct, ldc, K)


__all__ = ["pack", "packable", "packed_matmul", "NR", "MR"]
