"""prefetch(a, i): ask the CPU to bring a[i]'s cache line in, from inside a numba-compiled loop.

A loop that visits rows in a random order (dual coordinate descent's epochs, derivtrain/trainer/
dual_cd_kernels.py) waits on each row's cache misses before its dot product can go on, and the
out-of-order window holds about one row's work: one row's misses are in flight at a time.
Prefetching the row a few visits ahead puts several rows' misses in flight. A prefetch is a hint:
it never faults, and it changes no number the program computes.

numba has no prefetch of its own; this emits LLVM's `llvm.prefetch` (a read, kept in every cache
level, data), on a byte pointer to the element. Its name carries the pointer type: `p0` where LLVM's
pointers are opaque (LLVM 15 and later: numba 0.60 on), `p0i8` before.
"""
from llvmlite import binding, ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_OPAQUE = binding.llvm_version_info[0] >= 15
_READ, _KEEP_EVERYWHERE, _DATA = 0, 3, 1
_LINE = 64  # bytes a cache line holds


@intrinsic
def prefetch(typingctx, array, index):
    """Prefetch array[index] (a 1-D array, an integer index; no bounds check is needed: a hint that
    points anywhere reads nothing)."""
    if not (isinstance(array, types.Array) and array.ndim == 1 and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array_type, _ = signature.args
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]], wraparound=False)
        pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())  # one declaration for every element type
        i32 = ir.IntType(32)
        hint = ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32])
        name = "llvm.prefetch.p0" if _OPAQUE else "llvm.prefetch.p0i8"
        builder.call(cgutils.get_or_insert_function(builder.module, hint, name),
                     [pointer, ir.Constant(i32, _READ), ir.Constant(i32, _KEEP_EVERYWHERE), ir.Constant(i32, _DATA)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit(cache=True, nogil=True, inline="always")
def prefetch_row(X, i):
    """Prefetch every cache line of row i of a 2-D array X (any strides): a row a loop will visit a
    few visits on, in a random order (the standardization's and the minibatch gather's loops)."""
    row = X[i]
    for j in range(0, X.shape[1], max(1, _LINE // X.itemsize)):
        prefetch(row, j)
