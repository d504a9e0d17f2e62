"""Griffe extension for the docs build: the package's reStructuredText markup, rendered as Markdown.

The package's docstrings are written for Sphinx (``:param:`` fields, ``:class:`~a.b.C``` roles,
``text::`` literal blocks). mkdocstrings' Python handler parses the fields but renders the rest as
Markdown, where a role prints as raw text and ``::`` leaks into the page. This extension rewrites
each docstring *at build time* (the package's own docstrings are never changed):

* ``:class:`~a.b.C``` (and ``:meth:``, ``:func:``, ``:attr:``, ``:data:``, ``:mod:``, ``:exc:``,
  ``:obj:``, ``:const:``, with or without a ``py:`` domain) becomes an *optional* autorefs
  cross-reference: a link when the target is rendered somewhere in the site, inline code when it
  is not (a private module, a third-party class). A name relative to the docstring's object
  (``:meth:`create_session```, ``:class:`DevinHook```) is resolved in that object's scope the way
  Sphinx does; ``~`` shows the last component only; ``:meth:``/``:func:`` add ``()``; the
  ``Title <a.b.C>`` form keeps its title.
* A paragraph ending in ``::`` followed by an indented block becomes the paragraph ending in ``:``
  (nothing when it was only ``::``) and a fenced code block (Python when the block compiles,
  plain text otherwise).

Configured in mkdocs.yml (``plugins.mkdocstrings.handlers.python.options.extensions``); tested by
tests/docs/test_site_builds.py (no raw role, no trailing ``::`` in the rendered reference).
"""

from __future__ import annotations

import html
import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?P<role>class|meth|func|attr|data|mod|exc|obj|const|type):`(?P<target>[^`]+)`")
_CALLABLE_ROLES = {"meth", "func"}
_LITERAL_MARKER = re.compile(r"^(?P<indent>\s*)(?P<text>.*?)(?P<space>\s*)::\s*$")


def _resolve(obj: griffe.Object, name: str) -> str:
    """The full path ``name`` means in ``obj``'s docstring (``name`` itself when griffe cannot tell)."""
    name = name.lstrip(".")
    head, _, rest = name.partition(".")
    scopes: list[Any] = [obj]
    if obj.parent is not None:
        scopes.append(obj.parent)
    for scope in scopes:
        try:
            resolved = scope.resolve(head)
        except (griffe.NameResolutionError, griffe.AliasResolutionError, KeyError, AttributeError):
            continue
        return f"{resolved}.{rest}" if rest else resolved
    return name


def _role_to_autoref(obj: griffe.Object, match: re.Match[str]) -> str:
    role, target = match["role"], match["target"].strip()
    explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<name>[^>]+)>", target)
    if explicit:
        title, name = explicit["title"], explicit["name"]
        short = False
    else:
        short = target.startswith("~")
        name = target.lstrip("~")
        title = ""
    identifier = _resolve(obj, name)
    if not title:
        title = name.lstrip(".").rsplit(".", 1)[-1] if short else name.lstrip(".")
        if role in _CALLABLE_ROLES:
            title += "()"
    return (
        f'<autoref identifier="{html.escape(identifier, quote=True)}" optional>'
        f"<code>{html.escape(title)}</code></autoref>"
    )


def rewrite_roles(obj: griffe.Object, text: str) -> str:
    """``text`` with every Sphinx cross-reference role turned into an optional autorefs reference."""
    return _ROLE.sub(lambda match: _role_to_autoref(obj, match), text)


def _fence_language(block: str) -> str:
    try:
        compile(block, "<docstring>", "exec")
    except SyntaxError:
        return "text"
    return "python"


def rewrite_literal_blocks(text: str) -> str:
    """``text`` with each reStructuredText ``::`` literal block turned into a fenced code block."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = _LITERAL_MARKER.match(line)
        if marker is None or line.lstrip().startswith(".."):
            out.append(line)
            i += 1
            continue
        indent = len(marker["indent"])
        start = i + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        end = start
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
            end += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        if start == i + 1 or end == start:  # no blank line, or no indented block: not a literal block
            out.append(line)
            i += 1
            continue
        lead = marker["text"]
        if lead:
            # reST: "text::" -> "text:", "text ::" -> "text".
            out.append(marker["indent"] + lead + ("" if marker["space"] or lead.endswith(":") else ":"))
            out.append("")
        block = textwrap.dedent("\n".join(lines[start:end]))
        pad = marker["indent"]
        out.append(f"{pad}```{_fence_language(block)}")
        out.extend(f"{pad}{row}" if row else "" for row in block.splitlines())
        out.append(f"{pad}```")
        i = end
    return "\n".join(out)


class SphinxMarkupToMarkdown(griffe.Extension):
    """Rewrites every docstring of the loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._rewrite(pkg, seen=set())

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            value = rewrite_literal_blocks(obj.docstring.value)
            obj.docstring.value = rewrite_roles(obj, value)
        for member in obj.members.values():
            if member.is_alias:
                continue
            self._rewrite(member, seen)  # type: ignore[arg-type]
