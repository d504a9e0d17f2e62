"""The docs build's reST-to-Markdown rewrite (docs/_griffe_sphinx.py), on small docstrings."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import griffe

REPO_ROOT = Path(__file__).resolve().parents[2]


def _extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_griffe_sphinx", REPO_ROOT / "docs" / "_griffe_sphinx.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_literal_block_markers() -> None:
    rewrite = _extension().rewrite_literal_blocks
    assert rewrite("a short tag::\n\n    airflow-ti:<hash>\n\nAfter.") == (
        "a short tag:\n\n```text\nairflow-ti:<hash>\n```\n\nAfter."
    )
    assert rewrite("Example ::\n\n    x = 1\n") == "Example\n\n```python\nx = 1\n```"
    assert rewrite("::\n\n    x = 1\n    y = 2") == "```python\nx = 1\ny = 2\n```"
    # Not a literal block: no blank line and indented block after the marker.
    assert rewrite("ends with::\nnext line") == "ends with::\nnext line"


def test_roles_resolve_in_the_docstrings_scope() -> None:
    ext = _extension()
    package = griffe.load("airflow_provider_devin.hooks.devin", search_paths=[str(REPO_ROOT)])
    method = package["DevinHook"].members["check_create_session"]
    text = ext.rewrite_roles(method, ":meth:`create_session` and :class:`~airflow_provider_devin.exceptions.X`")
    assert '<autoref identifier="airflow_provider_devin.hooks.devin.DevinHook.create_session" optional>' in text
    assert "<code>create_session()</code>" in text
    assert '<autoref identifier="airflow_provider_devin.exceptions.X" optional><code>X</code></autoref>' in text
    assert ":meth:" not in text and ":class:" not in text
