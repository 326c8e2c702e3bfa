"""python -m derivtrain.compiled.build OUT_DIR MODULE_NAME: compile every export (exports.py) into one
extension module, ahead of time, with numba's pycc, for this machine's CPU.

Run by derivtrain/compiled/__init__.py in a child process the first time a compiled loop is needed
on a machine (a few seconds, once): the child imports numba and LLVM, the process that asked never
does. The module is written under a temporary name in OUT_DIR and renamed into place, so processes
that build at the same time (pytest's workers) each leave a whole file.
"""
import importlib
import os
import shutil
import sys
import tempfile
import warnings


def numba_type(text: str):
    """The numba type an exports.py argument string names."""
    from numba import types
    from numba.np.numpy_support import from_dtype

    from derivtrain.compiled.exports import PAIR

    scalars = {"f8": types.float64, "f4": types.float32, "i8": types.int64, "i4": types.int32, "b1": types.boolean,
               "none": types.none}
    if "[" not in text:
        return scalars[text]
    name, layout = text.split("[", 1)
    element = from_dtype(PAIR) if name == "pair" else scalars[name]
    return types.Array(element, layout.count(",") + 1, "C" if "::1" in layout else "A")


def build(out_dir: str, module_name: str) -> str:
    """Compiles the module into out_dir; its path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba flags pycc as deprecated; it is what builds a loadable module
        from numba.pycc import CC
    staging = tempfile.mkdtemp(dir=out_dir, prefix=".build-")
    try:
        return _compile(CC(module_name), staging, out_dir, module_name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _compile(cc, staging: str, out_dir: str, module_name: str) -> str:
    from llvmlite import binding
    from numba import types

    from derivtrain.compiled.exports import EXPORTS

    _release_the_gil()
    cc.output_dir, cc.verbose = staging, False
    cc.target_cpu = binding.get_host_cpu_name()  # for this machine (the cache key names its CPU)
    for name, (module, function, arguments, results) in EXPORTS.items():
        kernel = getattr(importlib.import_module(module), function)
        result = numba_type(results) if isinstance(results, str) else types.Tuple(tuple(numba_type(t) for t in results))
        cc.export(name, result(*(numba_type(t) for t in arguments)))(_calling(kernel, len(arguments)))
    cc.compile()
    (built,) = [f for f in os.listdir(staging) if f.startswith(module_name)]
    target = os.path.join(out_dir, built)
    os.replace(os.path.join(staging, built), target)  # whole, or not there: never half a file
    return target


def _release_the_gil() -> None:
    """Makes every export's Python wrapper release the GIL around the compiled loop, as the kernels'
    own nogil=True does under numba's just-in-time compiler. pycc compiles exports with default
    Flags, which keep it: the passes that derivtrain.threads.map_blocks shares out over threads (the
    full-batch SVM pass, the certificate's scores and backprojection) then ran one block at a time,
    whatever the threads (875k x 100 float32 rows, four columns backprojected: 37-44 ms on two threads
    against 33 on one, and 18-21 ms once released). Every kernel reads and writes arrays only, and
    its wrapper takes the GIL back before it builds a result or raises. Where numba's internals
    differ (the Flags class moved or lost the option) the module is built as before."""
    import numba.pycc.compiler as pycc_compiler

    base = getattr(pycc_compiler, "Flags", None)
    if base is None or not hasattr(base(), "release_gil"):
        return

    class ReleasingFlags(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.release_gil = True

    pycc_compiler.Flags = ReleasingFlags


def _calling(kernel, count: int):
    """A Python function of `count` arguments that calls the numba function `kernel`: pycc compiles an
    export with its own default options, so exporting kernel.py_func would drop the kernel's (fastmath:
    the certificate's float32 scores pass took 55 ms against numba's 12); a call keeps them."""
    names = ", ".join(f"a{i}" for i in range(count))
    scope = {"kernel": kernel}
    exec(f"def call({names}):\n    return kernel({names})\n", scope)  # noqa: S102 (a fixed template)
    return scope["call"]


if __name__ == "__main__":
    print(build(sys.argv[1], sys.argv[2]))
