"""The API reference is generated from docstrings, so every public parameter must be documented.

For each public class, function and method of the public modules: a docstring exists, and every
parameter of the signature has a ``:param name:`` line (for a class, in the class docstring or in
``__init__``'s). Operator template fields are marked ``(templated)``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator

import pytest

from ._public_api import REFERENCE_PAGES

PARAM = re.compile(r":param\s+(?:[\w\[\], |.]+\s+)?\*{0,2}(\w+)\s*:")
TEMPLATED_MODULES = (
    "airflow_provider_devin.operators.devin",
    "airflow_provider_devin.operators.knowledge",
    "airflow_provider_devin.sensors.devin",
)


def _own_public_members(module_name: str) -> Iterator[tuple[str, object]]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or [name for name in vars(module) if not name.startswith("_")]
    for name in names:
        value = getattr(module, name)
        if (inspect.isclass(value) or inspect.isfunction(value)) and value.__module__.startswith(
            "airflow_provider_devin"
        ):
            yield f"{module_name}.{name}", value


def _documented(doc: str | None) -> set[str]:
    return set(PARAM.findall(doc or ""))


def _parameters(func: object) -> list[str]:
    try:
        signature = inspect.signature(func)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []
    return [
        name
        for name, parameter in signature.parameters.items()
        if name not in ("self", "cls") and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def _own_function(name: str, value: object) -> object | None:
    """The function behind a public method, property getter aside; ``None`` for anything else."""
    if name.startswith("_"):
        return None
    if isinstance(value, (classmethod, staticmethod)):
        value = value.__func__
    return value if inspect.isfunction(value) else None


def docstring_gaps() -> list[str]:
    gaps: list[str] = []
    for module_name in sorted(REFERENCE_PAGES):
        for qualname, value in _own_public_members(module_name):
            if not inspect.getdoc(value):
                gaps.append(f"{qualname}: no docstring")
                continue
            if inspect.isfunction(value):
                missing = set(_parameters(value)) - _documented(value.__doc__)
                gaps.extend(f"{qualname}: no :param {name}:" for name in sorted(missing))
                continue
            if not inspect.isclass(value):
                continue
            init = vars(value).get("__init__")
            if init is not None and not _is_typed_dict_or_enum(value):
                documented = _documented(value.__doc__) | _documented(init.__doc__)
                missing = set(_parameters(init)) - documented
                gaps.extend(f"{qualname}: no :param {name}:" for name in sorted(missing))
            for name, member in vars(value).items():
                member = _own_function(name, member)
                if member is None:
                    continue
                if not inspect.getdoc(member):
                    gaps.append(f"{qualname}.{name}: no docstring")
                    continue
                missing = set(_parameters(member)) - _documented(member.__doc__)
                gaps.extend(f"{qualname}.{name}: no :param {p}:" for p in sorted(missing))
    return gaps


def _is_typed_dict_or_enum(cls: type) -> bool:
    import enum

    return issubclass(cls, enum.Enum) or hasattr(cls, "__total__")


def test_every_public_parameter_is_documented() -> None:
    gaps = docstring_gaps()
    assert not gaps, "docstrings without :param: lines:\n" + "\n".join(gaps)


def test_gap_finder_sees_a_missing_param() -> None:
    def undocumented(session_id: str, message: str) -> None:
        """Send something.

        :param session_id: the session.
        """

    assert set(_parameters(undocumented)) - _documented(undocumented.__doc__) == {"message"}


@pytest.mark.parametrize("module_name", TEMPLATED_MODULES)
def test_template_fields_are_marked_templated(module_name: str) -> None:
    unmarked = []
    for qualname, value in _own_public_members(module_name):
        if not inspect.isclass(value):
            continue
        doc = (value.__doc__ or "") + (getattr(vars(value).get("__init__"), "__doc__", None) or "")
        for field in getattr(value, "template_fields", ()):
            match = re.search(rf":param\s+{field}\s*:(.*?)(?=:param|:raises|:return|\Z)", doc, re.S)
            # A field stored under another name than its parameter's says so: "(templated, as ``field``)".
            renamed = f"(templated, as ``{field}``)" in re.sub(r"\s+", " ", doc)
            if not renamed and (match is None or "(templated)" not in match.group(1)):
                unmarked.append(f"{qualname}: {field}")
    assert not unmarked, f"template fields whose :param: line lacks '(templated)': {unmarked}"
