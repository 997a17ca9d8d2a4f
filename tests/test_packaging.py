"""The environment.yml and pyproject.toml pins must stay identical."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines):
    return {m.group(1).lower(): m.group(2) for m in (re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", l.strip()) for l in lines) if m}


def test_environment_yml_has_the_same_pins_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds])
    env_lines = [l.strip().lstrip("- ").strip() for l in (ROOT / "environment.yml").read_text().splitlines()]
    assert _pins(env_lines) == wanted


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]
    assert all("==" in d for d in deps), [d for d in deps if "==" not in d]


def test_makefile_installs_the_pinned_torch_pair():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins(project["dependencies"])
    make = (ROOT / "Makefile").read_text()
    assert f"torch=={pins['torch']}" in make and f"torchvision=={pins['torchvision']}" in make


def _internal_imports() -> dict[str, set[str]]:
    """For each chromolib module, the chromolib modules it imports (anywhere in its source,
    function bodies included), read from the source with ast."""
    import ast

    pkg = Path(__file__).resolve().parent.parent / "chromolib"
    graph = {}
    for f in pkg.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chromolib."):
                deps.add(node.module.split(".")[1])
        graph[f.stem] = {d.split(".")[0] for d in deps} - {f.stem}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycle_in_chromolib():
    graph = _internal_imports()
    assert {"orient", "runs", "images"} <= set(graph) and "runs" in graph["orient"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
    assert _cycle({**graph, "images": graph["images"] | {"orient"}}) is not None  # the check can fail


def test_the_chromosome_types_are_defined_once():
    """Only chromolib/karyotype.py spells out the type list (its last autosome next to X)."""
    import re

    pkg = Path(__file__).resolve().parent.parent / "chromolib"
    spelled = [f.name for f in pkg.glob("*.py") if re.search(r"range\(1, 23\)|\"22\",\s*\"X\"", f.read_text())]
    assert spelled == ["karyotype.py"]
