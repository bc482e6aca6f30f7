"""The direction of imports (docs/development.md): no module of ipmix imports itself back through
others, and ``corruptions`` stays beside ``mixing_sets``, below what measures and trains.

Read from the source (every import statement, module-level or not), not from running it.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in (SOURCE / "ipmix").rglob("*.py"):
        name = ".".join(path.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            # importing a package runs its parents' __init__ too; a module's own parents are not edges
            graph[name] |= {t for t in targets if t in modules and t != name and not name.startswith(f"{t}.")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, successors = work[-1]
            step = next(successors, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_back() -> None:
    assert _cycles(_graph()) == []


def test_corruptions_imports_only_utils_and_the_torch_free_folder_reader() -> None:
    reader = ("cifar", "folders", "images", "resize")  # ipmix.data's torch-free modules
    allowed = {"ipmix.utils", *(f"ipmix.data.{module}" for module in reader)}
    outside = {
        (name, target)
        for name, targets in _graph().items() if name.startswith("ipmix.corruptions")
        for target in targets
        if not target.startswith("ipmix.corruptions") and not any(
            target == prefix or target.startswith(f"{prefix}.") for prefix in allowed
        )
    }  # fmt: skip
    assert outside == set()
