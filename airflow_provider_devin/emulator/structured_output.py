"""A finished session's ``structured_output``: the value a test gave, or one that agrees with the scenario.

Precedence (see docs/emulator.md, "Structured output"):

1. the value given for that session (``control.set_structured_output``);
2. the value given for every new session (``control.set_default_structured_output``), copied into
   each session when it is created;
3. without a given value and without a ``structured_output_schema``: ``null``;
4. otherwise an instance of the schema whose values are **derived from the property names and the
   session** (:class:`SessionHints`), falling back to plain schema-generated values wherever a
   derived value would not validate. The result always validates against the schema.

Derived values (names are compared in ``snake_case``, so ``pullRequestOpened`` counts too):

* a boolean named like a pull request (``*pull_request*``, ``*pr_opened*``, ``pr_*``, ``*_pr``,
  ``has_pr``; or ``opened``/``created``/... inside such an object): true iff the session opened
  a pull request;
* a string named ``*url*``/``*link*``/``*href*``: the pull request's URL when there is one, else
  null where the schema allows it;
* ``summary``, ``*message*``, ``description``, ``report``...: the session's closing message;
  ``title``: the session's title;
* a boolean ``success``/``ok``/``passed``/``done``...: true; ``*fail*``/``*error*``/``blocked``:
  false;
* an integer or number: a count, 1 (a pull-request count: 1 or 0; ``*fail*``/``*error*``: 0);
* an enum or a ``const``: the first value that validates.

Optional properties are produced only when a derived value says something (a pull request flag,
a URL when there is a pull request, a summary or title); an array named like pull requests or
URLs gets one item when there is a pull request.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_devin.emulator.schema_instance import ITEM, Path, SchemaInstanceError, generate_instance


class _NotGiven:
    """A singleton, also through ``copy.deepcopy``."""

    def __repr__(self) -> str:
        return "<not given>"

    def __deepcopy__(self, memo: dict[int, Any]) -> _NotGiven:
        return self


#: "No structured output was given": derive one (``None`` is a value a test may give).
NOT_GIVEN: Any = _NotGiven()

_PR = re.compile(r"(^|_)(pull_?requests?|prs?)(_|$)|(^|_)pr_?opened|^has_pr")
_PR_PARTS = {"opened", "open", "created", "exists", "submitted", "raised"}
_URL = re.compile(r"(^|_)(urls?|links?|hrefs?)(_|$)|url")
_SUMMARY = re.compile(r"summary|message|description|explanation|report|notes?$|answer|details|result$|comment")
_TITLE = re.compile(r"(^|_)title$")
_GOOD = re.compile(r"^(ok|success|successful|succeeded|passed|tests_pass(ed)?|completed?|done|fixed|resolved)$")
_BAD = re.compile(r"fail|error|blocked")


def snake(name: str) -> str:
    """``pullRequestOpened`` -> ``pull_request_opened``; ``pull-request`` -> ``pull_request``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").replace(" ", "_").lower()


@dataclass(frozen=True)
class SessionHints:
    """What the session did, turned into suggested values by property name (see the module doc).

    :param pull_request_url: the URL of the pull request the session opened, or None.
    :param closing_message: the message Devin closed the work with.
    :param title: the session's title.
    """

    pull_request_url: str | None
    closing_message: str
    title: str

    def _names(self, path: Path) -> tuple[list[str], bool]:
        names = [snake(part) for part in path if part != ITEM]
        return names, bool(path) and path[-1] == ITEM

    def _pr_flag(self, names: list[str]) -> bool:
        name = names[-1]
        return bool(_PR.search(name)) or (name in _PR_PARTS and any(_PR.search(parent) for parent in names[:-1]))

    def _url_like(self, names: list[str], in_array: bool) -> bool:
        name = names[-1]
        return bool(_URL.search(name)) or (in_array and bool(_PR.search(name)))

    def values(self, path: Path, types: Sequence[str]) -> list[Any]:
        """Values to try first for the node at ``path`` (see :class:`~.schema_instance.Hints`).

        :param path: property names from the root (``[]`` for an array item).
        :param types: the JSON types the node allows.
        """
        names, in_array = self._names(path)
        has_pr = self.pull_request_url is not None
        found: list[Any] = []
        if not names:
            return [self.closing_message] if "string" in types else []
        name = names[-1]
        if "boolean" in types:
            if self._pr_flag(names):
                found.append(has_pr)
            elif _GOOD.search(name):
                found.append(True)
            elif _BAD.search(name):
                found.append(False)
        if "string" in types or "null" in types:
            if self._url_like(names, in_array) or (_PR.search(name) and "boolean" not in types):
                if has_pr and "string" in types:
                    found.append(self.pull_request_url)
                elif not has_pr and "null" in types:
                    found.append(None)
            elif "string" in types and _TITLE.search(name):
                found.append(self.title)
            elif "string" in types and _SUMMARY.search(name):
                found.append(self.closing_message)
        if "integer" in types or "number" in types:
            if _PR.search(name):
                found.append(1 if has_pr else 0)
            else:
                found.append(0 if _BAD.search(name) else 1)
        return found

    def wanted(self, path: Path, types: Sequence[str]) -> bool:
        """Whether an optional property, or one array item, says something true about the session.

        :param path: where it would be.
        :param types: the JSON types its schema allows.
        """
        names, in_array = self._names(path)
        if not names:
            return False
        has_pr = self.pull_request_url is not None
        if in_array:  # one item for a list of pull requests / URLs, when there is one
            return has_pr and (bool(_PR.search(names[-1])) or bool(_URL.search(names[-1])))
        if "boolean" in types and self._pr_flag(names):
            return True
        if "string" in types and self._url_like(names, in_array):
            return has_pr
        return "string" in types and bool(_SUMMARY.search(names[-1]) or _TITLE.search(names[-1]))


def structured_output(schema: dict[str, Any] | None, given: Any, hints: SessionHints) -> Any:
    """The structured output a session shows when its work is done (precedence in the module doc).

    :param schema: the session's ``structured_output_schema``, or None.
    :param given: the value a test gave (returned as is, unchecked), or :data:`NOT_GIVEN`.
    :param hints: what the session did.
    """
    if given is not NOT_GIVEN:
        return copy.deepcopy(given)
    if schema is None:
        return None
    try:
        return generate_instance(schema, hints)
    except SchemaInstanceError:
        return None
