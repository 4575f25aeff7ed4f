"""The shape of the code: one error tree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import digitize
import metadata
from digitize.errors import DigitizeError


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
