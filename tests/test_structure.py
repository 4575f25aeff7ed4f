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
    assert {cls.exit_code for cls in DigitizeError.__subclasses__()} == {1, 2, 3, 4}


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
