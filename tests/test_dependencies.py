"""What the package imports is what pyproject declares (issue 12 item 4), with floors both lanes meet.

The imports are read from the source (AST walk, every ``import``/``from`` anywhere in a module,
lazy imports inside functions included), mapped to their distributions through the installed
environment, and checked against ``[project].dependencies`` (the runtime modules) or those plus the
``emulator`` extra (``airflow_provider_devin/emulator``).
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "airflow_provider_devin"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CONSTRAINTS = [ROOT / "constraints" / "airflow-3.3.2-py3.11.txt", ROOT / "constraints" / "airflow-2.11.2-py3.11.txt"]

#: Imports provided by whoever loads the importing code, never by this package's install:
#: ``pytest`` for the pytest plugin (only pytest loads it); the Flask-AppBuilder widget libraries
#: for ``hooks/_form.connection_form_widgets``, which only Airflow's own FAB web UI (2.x-3.1) calls.
HOST_PROVIDED = {
    "pytest": {"emulator/pytest_plugin.py"},
    "flask_appbuilder": {"hooks/_form.py"},
    "flask_babel": {"hooks/_form.py"},
    "wtforms": {"hooks/_form.py"},
}


#: Airflow 3's ``apache-airflow`` is a meta-package: the ``airflow`` files belong to
#: ``apache-airflow-core`` / ``apache-airflow-task-sdk``, which it pins.
META_PACKAGES = {"airflow": "apache-airflow"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports() -> dict[str, set[str]]:
    """``{top-level module: {module path relative to the package}}`` for every non-stdlib import."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top != PACKAGE.name:
                    found.setdefault(top, set()).add(path.relative_to(PACKAGE).as_posix())
    return found


def declared(*groups: str) -> dict[str, Requirement]:
    requirements = [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]
    for group in groups:
        requirements += [Requirement(text) for text in PYPROJECT["project"]["optional-dependencies"][group]]
    return {_canonical(req.name): req for req in requirements}


def test_the_walk_sees_the_imports_the_issue_names() -> None:
    # Guards the test itself: a walk that found nothing would pass everything below.
    assert {"jsonschema", "asgiref", "urllib3", "aiohttp", "fastapi", "requests"} <= set(third_party_imports())


@cache
def distributions_of(module: str) -> set[str]:
    """The (canonical) distributions that install top-level ``module`` here."""
    names = {_canonical(dist) for dist in packages_distributions().get(module, [module])}
    return names | ({META_PACKAGES[module]} if module in META_PACKAGES else set())


def undeclared(runtime: dict[str, Requirement], emulator: dict[str, Requirement]) -> list[str]:
    """One line per imported module whose distribution is not declared where its importers need it."""
    missing: list[str] = []
    for module, users in sorted(third_party_imports().items()):
        users = users - HOST_PROVIDED.get(module, set())
        if not users:
            continue
        candidates = distributions_of(module)
        in_runtime = any(not user.startswith("emulator/") for user in users)
        if not candidates & set(runtime if in_runtime else emulator):
            group = "[project].dependencies" if in_runtime else "the emulator extra"
            missing.append(f"{module} (imported by {', '.join(sorted(users))}) is not in {group}")
    return missing


def test_every_third_party_import_is_a_declared_dependency() -> None:
    assert undeclared(declared(), declared("emulator")) == []


@pytest.mark.parametrize(
    ("dropped", "module"), [("jsonschema", "jsonschema"), ("aiohttp", "aiohttp"), ("fastapi", "fastapi")]
)
def test_dropping_a_declared_dependency_is_reported(dropped: str, module: str) -> None:
    runtime, emulator = declared(), declared("emulator")
    runtime.pop(dropped, None)
    emulator.pop(dropped, None)
    assert [line for line in undeclared(runtime, emulator) if line.startswith(f"{module} ")]


def test_every_dependency_has_a_floor_that_both_constraint_files_meet() -> None:
    pinned: list[dict[str, Version]] = []
    for path in CONSTRAINTS:
        pins = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, version = line.strip().partition("==")
            if sep and not name.startswith("#"):
                pins[_canonical(name)] = Version(version.split(";")[0].strip())
        pinned.append(pins)
    problems: list[str] = []
    for name, req in declared("emulator").items():
        floors = [spec for spec in req.specifier if spec.operator == ">="]
        if not floors:
            problems.append(f"{name}: no >= floor")
        for pins, path in zip(pinned, CONSTRAINTS, strict=True):
            if name in pins and not req.specifier.contains(pins[name], prereleases=True):
                problems.append(f"{name}{req.specifier} excludes {pins[name]} pinned in {path.name}")
            if name not in pins:
                problems.append(f"{name} is not pinned in {path.name}")
    assert problems == []


def test_requires_python_and_classifiers_claim_what_ci_tests() -> None:
    from packaging.specifiers import SpecifierSet

    tested = {"3.11"}  # the Airflow 3.3 and 2.11 CI lanes
    claimed = SpecifierSet(PYPROJECT["project"]["requires-python"])
    versions = {f"3.{minor}" for minor in range(8, 16) if claimed.contains(f"3.{minor}.0")}
    assert versions == tested
    classifiers = PYPROJECT["project"]["classifiers"]
    listed = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert listed == tested
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in tested
