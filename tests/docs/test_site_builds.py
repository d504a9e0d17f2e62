"""The documentation site builds in strict mode, and its API reference covers the public API.

Strict mode turns every MkDocs warning into an error: a broken link or anchor, a page missing
from the nav, a snippet include pointing at a file that does not exist, a mkdocstrings directive
naming an object that cannot be imported.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ._public_api import REFERENCE_PAGES

REPO_ROOT = Path(__file__).resolve().parents[2]


def build_site(site_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO_ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site_dir),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = build_site(site_dir)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return site_dir


def test_strict_build_succeeds(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "search" / "search_index.json").is_file()


def test_strict_build_fails_on_a_broken_link(tmp_path: Path) -> None:
    # Guards the guard: if strict mode or link validation were switched off, this would pass.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [a missing page](missing.md).\n")
    config = REPO_ROOT / "mkdocs.yml"
    text = config.read_text()
    # Same settings, a throwaway docs dir with no nav.
    head = text.split("\nnav:", 1)[0]
    tail = text.split("\nmarkdown_extensions:", 1)[1]
    trimmed = head.replace("docs_dir: docs", f"docs_dir: {docs}") + "\nmarkdown_extensions:" + tail
    trimmed = trimmed.replace("!relative $config_dir", str(REPO_ROOT))
    (tmp_path / "mkdocs.yml").write_text(trimmed)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(tmp_path / "mkdocs.yml"),
            "-d",
            str(tmp_path / "site"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "missing.md" in result.stderr + result.stdout


def _public_objects(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", None) == module_name
        ]
    return [(name, getattr(module, name)) for name in names]


def _public_methods(cls: type) -> list[str]:
    methods = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod, property)):
            methods.append(name)
    return methods


def _anchored(html: str, module_name: str, name: str) -> str | None:
    """The anchor id documenting ``name``: in ``module_name`` itself or, for a package that
    re-exports it (the emulator), in one of its submodules."""
    match = re.search(rf'id="({re.escape(module_name)}(?:\.\w+)*\.{re.escape(name)})"', html)
    return match.group(1) if match else None


@pytest.mark.parametrize("module_name", sorted(REFERENCE_PAGES))
def test_reference_page_shows_every_public_class_and_method(site: Path, module_name: str) -> None:
    html = (site / REFERENCE_PAGES[module_name] / "index.html").read_text()
    missing = []
    for name, value in _public_objects(module_name):
        anchor = _anchored(html, module_name, name)
        if anchor is None:
            missing.append(f"{module_name}.{name}")
            continue
        if inspect.isclass(value) and value.__module__.startswith("airflow_provider_devin"):
            missing.extend(
                f"{anchor}.{method}" for method in _public_methods(value) if f'id="{anchor}.{method}"' not in html
            )
    assert not missing, f"not in {REFERENCE_PAGES[module_name]}: {missing}"


# A Sphinx role as Markdown renders it: ":class:" then the backticked target as <code>.
_RAW_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const|type):(?:<code>|`)")
# A reST literal-block marker left at the end of a paragraph or on its own.
_RAW_LITERAL_MARKER = re.compile(r"::\s*</p>")


def raw_sphinx_markup(site: Path) -> list[str]:
    """Every raw role or ``::`` marker in the rendered API reference, as "page: excerpt"."""
    found = []
    for page in sorted((site / "reference").glob("*/index.html")):
        html = page.read_text()
        for pattern in (_RAW_ROLE, _RAW_LITERAL_MARKER):
            for match in pattern.finditer(html):
                excerpt = html[max(0, match.start() - 60) : match.end() + 40].replace("\n", " ")
                found.append(f"{page.parent.name}: ...{excerpt}...")
    return found


def test_reference_renders_sphinx_roles_and_literal_blocks(site: Path) -> None:
    # docs/_griffe_sphinx.py rewrites the docstrings' reST markup at build time; without it,
    # ":class:`~a.b.C`" prints as ":class:C" and "a short tag::" keeps its "::".
    found = raw_sphinx_markup(site)
    assert not found, f"{len(found)} raw reST markup in the API reference:\n" + "\n".join(found[:30])


def test_roles_become_links_to_the_rendered_objects(site: Path) -> None:
    html = (site / "reference" / "hooks" / "index.html").read_text()
    # ":meth:`create_session`" in a DevinHook method's docstring: resolved in the class's scope.
    assert re.search(
        r'<a class="autorefs autorefs-internal"[^>]*href="#airflow_provider_devin\.hooks\.devin\.DevinHook\.'
        r'create_session"><code>create_session\(\)</code></a>',
        html,
    )
    idempotency = (site / "reference" / "idempotency" / "index.html").read_text()
    # "a short tag::" + indented block: a sentence ending in ":" and a code block.
    assert re.search(
        r"a short tag:</p>\s*<div class=\"highlight\"><pre>.*airflow-ti:&lt;first 16 hex", idempotency, re.S
    )
