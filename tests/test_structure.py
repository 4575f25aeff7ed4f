"""The shape of the code: one error tree, one module that spells the output layout."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import digitize
import metadata
from digitize.errors import DigitizeError

ROOT = Path(__file__).resolve().parent.parent


def source_files() -> list[Path]:
    return sorted([ROOT / "cli.py", *(ROOT / "digitize").rglob("*.py"), *(ROOT / "metadata").rglob("*.py")])


def project_modules() -> list[str]:
    names = ["cli"]
    for package in (digitize, metadata):
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return names


def test_every_error_of_the_project_is_a_digitize_error_with_an_exit_code():
    strays = []
    for name in project_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException) and not issubclass(cls, DigitizeError):
                strays.append(f"{name}.{cls.__name__}")
    assert strays == []
    assert {cls.exit_code for cls in DigitizeError.__subclasses__()} == {1, 2, 3, 4, 5, 6, 7}


LAYOUT_WORDS = re.compile(r"journal\.sqlite|\.work\b|(?<![\w/-])(documents|catalog|ocr|qc|logs)/")


def string_constants(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_only_the_layout_module_spells_out_the_output_folder():
    spelled = [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
        for path in source_files()
        if path.relative_to(ROOT).as_posix() != "digitize/layout.py"
        for line, text in string_constants(path)
        if LAYOUT_WORDS.search(text)
    ]
    assert spelled == []


# The foundation of digitize/ that metadata/ builds on; it imports nothing from metadata/ or from
# the rest of digitize/ (the pipeline, QC and hand-off build on both).
CORE = {
    "digitize",
    "digitize.errors",
    "digitize.fsutil",
    "digitize.journal",
    "digitize.journal.chain",
    "digitize.journal.decode",
    "digitize.journal.failures",
    "digitize.journal.ledger",
    "digitize.journal.records",
    "digitize.journal.store",
    "digitize.layout",
    "digitize.settings",
    "digitize.xmlsafe",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (at any level of the file, lazy imports included).

    `from package import name` counts as importing the submodule when `name` is one, else the
    package itself.
    """
    modules = {module_name(path): path for path in source_files()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    if submodule in modules:
                        targets.add(submodule)
                    elif node.module in modules:
                        targets.add(node.module)
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, found by depth-first search (each reported once, from its smallest module)."""
    found: set[tuple[str, ...]] = set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in path:
                cycle = path[path.index(target) :]
                start = cycle.index(min(cycle))
                found.add(tuple(cycle[start:] + cycle[:start]))
            elif target > path[0]:
                visit(target, [*path, target])

    for node in sorted(graph):
        visit(node, [node])
    return [list(c) for c in sorted(found)]


def test_imports_have_no_cycle():
    assert cycles(import_graph()) == []


def test_metadata_builds_on_the_core_of_digitize_only_and_the_core_on_nothing_above_it():
    graph = import_graph()
    metadata_uses = {t for m, ts in graph.items() if m.startswith("metadata") for t in ts if t.startswith("digitize")}
    assert metadata_uses <= CORE, metadata_uses - CORE
    core_uses = {t for m in CORE for t in graph[m]}
    assert core_uses <= CORE, core_uses - CORE


def test_no_module_over_500_lines_without_a_reason_at_its_top():
    """Modules of digitize/, metadata/ and cli.py: one job each; a long one says why in its docstring."""
    unexplained = []
    for path in source_files():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > 500 and "500 lines" not in docstring:
            unexplained.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert unexplained == []
