"No import cycle among the package's modules: every import statement, also inside functions, read statically with ast."
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlx_modernbert"
MODULES = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}

def imported_modules(path:Path) -> set[str]:
    "The package modules that `path` imports anywhere (module level or inside functions)."
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level: base = "mlx_modernbert" + ("." + base if base else "")  # relative: the package is flat
            names = [base] + [f"{base}.{a.name}" for a in node.names]   # `from pkg import module` imports the module
        else: continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "mlx_modernbert" and len(parts) > 1 and parts[1] in MODULES: found.add(parts[1])
    return found - {path.stem}

def find_cycle(graph:dict[str, set[str]]) -> list[str]|None:
    "One cycle of `graph` as a list of nodes (first == last), or None."
    state, stack = {}, []
    def visit(n):
        state[n] = "open"; stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == "open": return stack[stack.index(m):] + [m]
            if m not in state and (cycle := visit(m)): return cycle
        state[n] = "done"; stack.pop()
    for n in sorted(graph):
        if n not in state and (cycle := visit(n)): return cycle
    return None

def test_finder_sees_cycles_and_nested_imports(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from mlx_modernbert.hub import x\n    from . import bert\n")
    assert imported_modules(tmp_path / "a.py") == {"hub", "bert"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None

def test_loader_imports_no_model_module():
    "Models are found by `model_type` with importlib, so the loader and the config reader name none of them."
    graph = {m: imported_modules(PACKAGE / f"{m}.py") for m in MODULES}
    assert not graph["hub"] & {"bert", "modernbert"}, graph["hub"]
    assert not graph["config"] & {"bert", "modernbert", "hub"}, graph["config"]

def test_no_import_cycle():
    graph = {m: imported_modules(PACKAGE / f"{m}.py") for m in MODULES}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
