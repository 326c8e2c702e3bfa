"""The shape of the code, read with `ast` from derivtrain/ (nothing is imported): small files, short
functions, no import circles, no import from a lower layer to a higher one.

Imports: every `import derivtrain.x` and `from derivtrain.x import y` anywhere in a module (inside
functions too: a lazy import is still a dependency), and relative ones resolved to their absolute
name (`from .x import y` in derivtrain/a/b.py is derivtrain.a.x). `from derivtrain.x import y`
depends on derivtrain.x and on derivtrain.x.y when that is a module; a package's __init__.py is
the package's module. So a submodule that imports a sibling through its package
(`from derivtrain.sensitivity import gradients`) depends on the package's __init__, which imports
its submodules: a circle. Submodules import their siblings by full name instead
(`import derivtrain.sensitivity.gradients as gradients`).

Layers, lowest first; a module may import its own layer and those below, never one above:

    base     errors, error_messages, choices, paths, pipes, lock, threads, function (the
             autograd.Function base), usage, plugins, logging/, compiled/ (loads the compiled loops;
             its build imports their modules by name, in a child process): no derivtrain imports
             beyond base
    parts    data/, models/, losses/, duality/, convex/, contracts: the building blocks a config names
    config   config/ (schemas, the one validate, choice lists of the groups), devices: reads the
             parts' classes to check a config against them; parts never read config (a choice
             list a part dispatches on lives in choices.py)
    engine   trainer/, sensitivity/, sweep/, registry, saved, resume: what runs a checked config
    app      run, run_folder, launch, cli, __main__, api, export, analyze, training_api, torchrun,
             estimator/, gradcheck/, derivtrain/__init__.py and derivtrain/trainer/__init__.py
             (the package is also the function derivtrain.train, which calls training_api)

`python tests/test_structure.py` prints the numbers.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "derivtrain"
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60

LAYERS = {
    "base": ("errors", "error_messages", "choices", "paths", "pipes", "lock", "writes", "threads", "function", "usage",
             "plugins", "logging", "compiled"),
    "parts": ("data", "models", "losses", "convex", "contracts"),
    "config": ("config", "devices"),
    "engine": ("trainer", "sensitivity", "sweep", "registry", "saved", "resume", "path"),
    "app": ("run", "run_folder", "launch", "cli", "__main__", "api", "export", "analyze", "training_api", "estimator",
            "gradcheck", "torchrun"),
}
# the root package imports the app (lazily: derivtrain.train, derivtrain.load_run) for its users
EXCEPTIONS = {"derivtrain": "app"}
ORDER = list(LAYERS)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST, module: str, is_package: bool, top: str = "derivtrain") -> set:
    """Every derivtrain name this module imports (lazy imports included, relative ones resolved)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == top)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] == top:
                names.add(source)
                names.update(f"{source}.{a.name}" for a in node.names)
    return names


def scan(root: Path = ROOT) -> dict:
    """{module: {"path", "lines", "functions": [(name, lines)], "imports": {derivtrain modules}}}."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        name = module_name(path, root)
        functions = [(f"{node.name}:{node.lineno}", node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        modules[name] = {"path": path.relative_to(root.parent), "lines": len(text.splitlines()),
                         "functions": functions,
                         "imports": imported_names(tree, name, path.name == "__init__.py", root.name)}
    for info in modules.values():
        info["imports"] = {m for m in info["imports"] if m in modules}
    for name, info in modules.items():
        info["imports"].discard(name)
    return modules


def circles(modules: dict) -> list:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(sorted(modules[start]["imports"])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(modules[child]["imports"]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_of(module: str) -> str | None:
    if module in EXCEPTIONS:
        return EXCEPTIONS[module]
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else None
    return next((layer for layer, names in LAYERS.items() if top in names), None)


def upward_imports(modules: dict) -> list:
    return sorted((name, dep, layer_of(name), layer_of(dep)) for name, info in modules.items()
                  for dep in info["imports"]
                  if layer_of(name) and layer_of(dep) and ORDER.index(layer_of(dep)) > ORDER.index(layer_of(name)))


@pytest.fixture(scope="module")
def modules():
    return scan()


def test_no_long_files(modules):
    long = sorted((info["lines"], str(info["path"])) for info in modules.values() if info["lines"] > MAX_FILE_LINES)
    assert not long, f"files over {MAX_FILE_LINES} lines: {long}"


def test_no_long_functions(modules):
    long = sorted((lines, f"{info['path']}:{fn}") for info in modules.values()
                  for fn, lines in info["functions"] if lines > MAX_FUNCTION_LINES)
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_import_circles(modules):
    assert circles(modules) == []


def packages(modules: dict) -> dict:
    """The import graph with each top-level package or module of derivtrain as one node (the root
    package itself, whose lazy getters are the users' door, stays out: it imports, nothing imports it)."""
    def node(name):
        return ".".join(name.split(".")[:2])

    graph = {}
    for name, info in modules.items():
        if name == ROOT.name:
            continue
        graph.setdefault(node(name), {"imports": set()})["imports"].update(
            node(d) for d in info["imports"] if node(d) != node(name) and d != ROOT.name)
    return graph


def test_no_package_circles(modules):
    assert circles(packages(modules)) == []


def test_every_module_has_a_layer(modules):
    assert [name for name in modules if layer_of(name) is None] == [], "add new top-level modules to LAYERS"


def test_no_upward_imports(modules):
    assert upward_imports(modules) == []


def test_the_scan_sees_relative_and_lazy_imports(tmp_path):
    pkg = tmp_path / "derivtrain"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("def f():\n    from .sub import high\n")  # lazy and relative
    (pkg / "sub" / "__init__.py").write_text("from . import high\n")
    (pkg / "sub" / "high.py").write_text("from ..low import f\n")
    found = scan(pkg)
    assert found["derivtrain.low"]["imports"] == {"derivtrain.sub", "derivtrain.sub.high"}
    assert found["derivtrain.sub"]["imports"] == {"derivtrain.sub.high"}
    assert found["derivtrain.sub.high"]["imports"] == {"derivtrain.low"}
    assert circles(found) == [["derivtrain.low", "derivtrain.sub", "derivtrain.sub.high"]]


def test_dispatch_tables_read_the_config_lists():
    """One source per choice list: the code that dispatches on a name knows exactly the names the
    config accepts."""
    from derivtrain.choices import MULTICLASS_VARIANTS
    from derivtrain.config.schemas.analysis import METHODS
    from derivtrain.config.schemas.optim import GRADIENT_OPTIMIZERS, SOLVERS
    from derivtrain.losses.multiclass_hinge import _FUNCTIONS
    from derivtrain.sensitivity.methods import METHOD_FUNCTIONS
    from derivtrain.trainer.fitters import FITTERS
    from derivtrain.trainer.optimizers import BUILDERS

    assert tuple(METHOD_FUNCTIONS) == METHODS
    assert tuple(_FUNCTIONS) == MULTICLASS_VARIANTS
    assert set(BUILDERS) == set(GRADIENT_OPTIMIZERS) | {"auto"}
    # quasi_newton: optim=auto's L-BFGS for smooth objectives without a dual (no optim name of its own)
    assert set(FITTERS) == set(SOLVERS) | {"gradient", "quasi_newton"}


if __name__ == "__main__":
    found = scan()
    sizes = [(info["lines"], str(info["path"])) for info in found.values()]
    lengths = [(n, f"{info['path']}:{fn}") for info in found.values() for fn, n in info["functions"]]
    print(f"modules: {len(found)}; longest file: {max(sizes)}; longest function: {max(lengths)}")
    print("files>300:", sorted((s for s in sizes if s[0] > MAX_FILE_LINES), reverse=True))
    print("funcs>60:", sorted((f for f in lengths if f[0] > MAX_FUNCTION_LINES), reverse=True))
    print("cycles:", circles(found))
    print("upward imports:", upward_imports(found))
    print("modules without a layer:", [name for name in found if layer_of(name) is None])
