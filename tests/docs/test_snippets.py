"""Every code block in the docs is real code.

A fenced ``python`` block is either

* an include (``--8<-- "path"`` lines only) of a file under ``dags_examples/`` or ``tests/`` — those
  files are imported here and exercised by their own tests — or
* inline code that compiles and runs as it stands.

Fenced ``json`` blocks must parse. Includes must name files (and sections) that exist.
"""

from __future__ import annotations

import ast
import json
import re
import runpy
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"

FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)(?P<rest>.*)$")
INCLUDE = re.compile(r'^--8<--\s+"(?P<target>[^"]+)"\s*$')
TESTED_ROOTS = ("dags_examples/", "tests/")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT)}:{self.line}"


def fenced_blocks(page: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = FENCE_OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        indent, fence, lang = match["indent"], match["fence"], match["lang"].lower()
        body: list[str] = []
        start = index + 1
        index += 1
        while index < len(lines):
            stripped = lines[index].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index])
            index += 1
        blocks.append(Block(page, start, lang, "\n".join(body) + "\n"))
        index += 1
    return blocks


def all_blocks(lang: str) -> list[Block]:
    pages = sorted(DOCS.rglob("*.md"))
    return [block for page in pages for block in fenced_blocks(page) if block.lang == lang]


def includes(block: Block) -> list[str] | None:
    """The include targets if the block is only ``--8<--`` lines, else None."""
    lines = [line.strip() for line in block.code.splitlines() if line.strip()]
    matches = [INCLUDE.match(line) for line in lines]
    if lines and all(matches):
        return [match["target"] for match in matches if match]
    return None


def split_target(target: str) -> tuple[Path, str | None]:
    """``path``, ``path:section``, or ``path:start:end`` → (file, section-or-None)."""
    path, _, rest = target.partition(":")
    section = rest if rest and not rest[0].isdigit() else None
    return REPO_ROOT / path, section


PYTHON_BLOCKS = all_blocks("python")
INCLUDED = [(block, target) for block in PYTHON_BLOCKS for target in (includes(block) or [])]
INLINE = [block for block in PYTHON_BLOCKS if includes(block) is None]


def test_docs_show_python_code() -> None:
    # A parser that finds nothing would make every other test here pass vacuously.
    assert len(PYTHON_BLOCKS) >= 5
    assert INCLUDED


@pytest.mark.parametrize(("block", "target"), INCLUDED, ids=[f"{b}->{t}" for b, t in INCLUDED])
def test_included_python_comes_from_tested_code(block: Block, target: str) -> None:
    path, section = split_target(target)
    relative = path.relative_to(REPO_ROOT).as_posix()
    assert relative.startswith(TESTED_ROOTS), f"{block} includes {relative}, which no test exercises"
    assert path.is_file(), f"{block} includes {relative}, which does not exist"
    source = path.read_text()
    ast.parse(source, filename=str(path))
    if section is not None:
        assert f"--8<-- [start:{section}]" in source, f"{relative} has no section {section!r}"
        assert f"--8<-- [end:{section}]" in source, f"{relative} has no end of section {section!r}"


@pytest.mark.parametrize(
    "path",
    sorted({split_target(t)[0] for _, t in INCLUDED if t.startswith("dags_examples/")}),
    ids=lambda p: p.name,
)
def test_included_example_dag_files_import(path: Path) -> None:
    # Importing a DAG file builds its DAGs: wrong parameter names or types fail here.
    namespace = runpy.run_path(str(path), run_name="docs_snippet_check")
    assert namespace


@pytest.mark.parametrize("block", INLINE, ids=str)
def test_inline_python_runs(block: Block) -> None:
    code = compile(block.code, str(block), "exec")
    exec(code, {"__name__": "docs_inline_block"})


@pytest.mark.parametrize("block", all_blocks("json"), ids=str)
def test_json_blocks_parse(block: Block) -> None:
    if includes(block) is None:
        json.loads(block.code)


def test_fence_parser_sees_indented_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('!!! note\n\n    ```python\n    x = 1\n    ```\n\n```json\n{"a": 1}\n```\n')
    blocks = fenced_blocks(page)
    assert [(b.lang, b.code) for b in blocks] == [("python", "x = 1\n"), ("json", '{"a": 1}\n')]


def test_no_page_is_left_a_placeholder() -> None:
    unfinished = [
        f"{page.relative_to(REPO_ROOT)}:{number}"
        for page in sorted(DOCS.rglob("*.md"))
        for number, line in enumerate(page.read_text().splitlines(), 1)
        if re.search(r"\bPLACEHOLDER\b|\bTODO\b|\bTBD\b", line)
    ]
    assert not unfinished, unfinished


def _all_includes() -> list[tuple[Block, str]]:
    pages = sorted(DOCS.rglob("*.md"))
    return [(block, target) for page in pages for block in fenced_blocks(page) for target in (includes(block) or [])]


def _named_elsewhere(path: Path) -> bool:
    """Whether some other test-suite module names ``path`` (by file name, or by module name for
    Python files, which tests and their helpers import)."""
    needles = {path.name} | ({path.stem} if path.suffix == ".py" else set())
    for source in (REPO_ROOT / "tests").rglob("*.py"):
        if source != path and any(re.search(rf"\b{re.escape(n)}\b", source.read_text()) for n in needles):
            return True
    return False


def test_every_included_helper_file_is_exercised_by_a_test() -> None:
    # An included file that is not itself a test module must be used by the suite.
    helpers = {
        split_target(target)[0]
        for _, target in _all_includes()
        if target.startswith("tests/") and not split_target(target)[0].name.startswith("test_")
    }
    unexercised = sorted(p.relative_to(REPO_ROOT).as_posix() for p in helpers if not _named_elsewhere(p))
    assert helpers
    assert not unexercised, f"included in the docs but run by no test: {unexercised}"
