"""What a knowledge or playbook sync changes in Devin, worked out with no request at all.

The source (Markdown files with front matter, or dicts given in the DAG) is checked and turned into
:class:`SourceEntry` values; :func:`plan` compares them with what Devin lists and says, entry by
entry, what to create, update, delete or leave alone. The operators in
:mod:`airflow_provider_devin.operators.knowledge` carry the plan out (or only log it, on a dry run).

Ownership is written into each entry: the body the sync sends ends with a marker naming who manages
it (:func:`sync_marker`). Only entries carrying this sync's own marker are ever updated or deleted;
an entry a person wrote (no marker, or another sync's marker) is never touched, even when its name
matches a source entry (it is reported as ``skipped``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: The macro rule of Devin's v3 contract ("!" then letters, digits, "_" or "-"), assumed for v1 too.
MACRO_PATTERN = re.compile(r"^![A-Za-z0-9_-]+$")

_MARKER = "<!-- managed by Airflow ({managed_by}); edit the source, not this entry -->"


def sync_marker(managed_by: str) -> str:
    """The last line of every body a sync with this ``managed_by`` writes (an HTML comment: Devin
    reads Markdown, people see it in the editor).

    :param managed_by: Who manages the entries, e.g. ``"<dag_id>.<task_id>"``.
    """
    if not isinstance(managed_by, str) or not managed_by.strip() or "-->" in managed_by or "\n" in managed_by:
        raise ValueError(f"managed_by must be a one-line, non-empty string without '-->', got {managed_by!r}.")
    return _MARKER.format(managed_by=managed_by.strip())


@dataclasses.dataclass(frozen=True)
class EntryKind:
    """What differs between knowledge notes and playbooks, for the plan.

    :param label: The entry's name in messages (``knowledge note``).
    :param key: The field entries are matched by (``name`` / ``title``).
    :param id_field: The listed entry's id (``id`` / ``playbook_id``).
    :param fields: Every source field the kind accepts, canonical name first; aliases map to it.
    :param required: Fields a source entry must give (besides the key and ``body``).
    :param always_compared: Fields whose absence in the source means "none" (a change in Devin is undone).
    :param compared_when_given: Fields compared only when the source gives them (else Devin's value is kept).
    """

    label: str
    key: str
    id_field: str
    fields: Mapping[str, str]
    required: tuple[str, ...] = ()
    always_compared: tuple[str, ...] = ()
    compared_when_given: tuple[str, ...] = ()


KNOWLEDGE = EntryKind(
    label="knowledge note",
    key="name",
    id_field="id",
    fields={
        "name": "name",
        "body": "body",
        "trigger_description": "trigger_description",
        "trigger": "trigger_description",  # the v3 name
        "pinned_repo": "pinned_repo",
        "macro": "macro",
        "parent_folder_id": "parent_folder_id",
        "folder_id": "parent_folder_id",  # the v3 name
        "is_enabled": "is_enabled",
    },
    required=("trigger_description",),
    always_compared=("trigger_description", "pinned_repo", "macro"),
    compared_when_given=("parent_folder_id", "is_enabled"),
)

PLAYBOOKS = EntryKind(
    label="playbook",
    key="title",
    id_field="playbook_id",
    fields={"title": "title", "body": "body", "macro": "macro"},
    always_compared=("macro",),
)


@dataclasses.dataclass(frozen=True)
class SourceEntry:
    """One checked source entry.

    :param key: Its name (knowledge) or title (playbook).
    :param body: The body as the source gives it (without the marker).
    :param fields: The other fields, canonical names, ``None`` where not given.
    :param origin: Where it came from (a file path or ``entries[3]``), for messages.
    """

    key: str
    body: str
    fields: Mapping[str, Any]
    origin: str

    def full_body(self, marker: str) -> str:
        """The body Devin stores: the source's text, a blank line, the marker."""
        return f"{self.body.strip()}\n\n{marker}"


@dataclasses.dataclass(frozen=True)
class Change:
    """What the plan does with one entry.

    :param action: ``create``, ``update``, ``unchanged``, ``delete`` or ``skip``.
    :param key: The entry's name / title.
    :param entry_id: Devin's id of the listed entry (``None`` for a create).
    :param source: The source entry (``None`` for a delete or skip of a listed entry).
    :param current: The entry as Devin listed it (``None`` for a create).
    :param changed_fields: For an update: the fields that differ.
    :param reason: For a skip or delete: why, in a sentence.
    """

    action: str
    key: str
    entry_id: str | None = None
    source: SourceEntry | None = None
    current: Mapping[str, Any] | None = None
    changed_fields: tuple[str, ...] = ()
    reason: str = ""

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly line of the result (``name`` is a playbook's title too)."""
        line: dict[str, Any] = {"name": self.key, "id": self.entry_id}
        if self.changed_fields:
            line["fields"] = list(self.changed_fields)
        if self.reason:
            line["reason"] = self.reason
        return line


# --- the source ---------------------------------------------------------------------------------


def read_markdown(path: Path, kind: EntryKind) -> dict[str, Any]:
    """A Markdown file as a source dict: its ``key: value`` front matter plus ``body``.

    The front matter is the lines between a first line ``---`` and the next ``---`` line; each is
    ``key: value`` (surrounding quotes are dropped; an empty value means "not given"; ``true`` /
    ``false`` for ``is_enabled``). It is not YAML: ``macro: !dq-fix`` is the text ``!dq-fix``.
    Without front matter the whole file is the body. The key (``name`` / ``title``) defaults to
    the file name without ``.md``.

    :raises ValueError: naming the file and the line or field that is wrong.
    """
    try:
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as UTF-8 text ({error}).") from None
    entry: dict[str, Any] = {}
    lines = text.split("\n")
    if lines[0].strip() == "---":
        closing = next((i for i, line in enumerate(lines) if i and line.strip() == "---"), None)
        if closing is None:
            raise ValueError(f"{path}: the front matter opened on line 1 has no closing '---' line.")
        header, text = lines[1:closing], "\n".join(lines[closing + 1 :])
        for number, line in enumerate(header, start=2):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, colon, value = line.partition(":")
            name = name.strip()
            if not colon or not name:
                raise ValueError(f"{path}, line {number}: expected 'key: value' in the front matter, got {line!r}.")
            if name not in kind.fields or name == "body":
                accepted = ", ".join(sorted(f for f in kind.fields if f != "body"))
                raise ValueError(
                    f"{path}, line {number}: unknown field {name!r} for a {kind.label} (accepted: {accepted})."
                )
            if name in entry:
                raise ValueError(f"{path}, line {number}: the field {name!r} is given twice.")
            entry[name] = _front_matter_value(value.strip())
    entry["body"] = text
    if not entry.get(kind.key):
        entry[kind.key] = path.stem
    return entry


def _front_matter_value(value: str) -> Any:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value or None


def read_folder(folder: Path, kind: EntryKind) -> list[tuple[str, dict[str, Any]]]:
    """``(origin, source dict)`` of every ``*.md`` file directly in ``folder``, by file name.

    :raises ValueError: when the folder does not exist or holds no ``.md`` file (an empty source
        would make ``prune=True`` delete every managed entry: a wrong path must not do that).
    """
    if not folder.is_dir():
        raise ValueError(f"source_folder {str(folder)!r} does not exist or is not a folder.")
    paths = sorted(folder.glob("*.md"))
    if not paths:
        raise ValueError(
            f"source_folder {str(folder)!r} holds no .md file; pass entries=[] to sync an empty source on purpose."
        )
    return [(str(path), read_markdown(path, kind)) for path in paths]


def check_entries(raw: Iterable[tuple[str, Any]], kind: EntryKind, *, api_version: str) -> list[SourceEntry]:
    """The source dicts, checked, as :class:`SourceEntry` values (no request is made).

    :param raw: ``(origin, dict)`` pairs; the origin names the file or ``entries[i]`` in errors.
    :param kind: Knowledge notes or playbooks.
    :param api_version: ``v1`` or ``v3``: v3 knowledge notes take no ``macro``, v1 ones no ``is_enabled``.
    :raises ValueError: naming the entry and the field, for the first problem found.
    """
    checked: list[SourceEntry] = []
    seen: dict[str, str] = {}
    for origin, item in raw:
        entry = _check_one(origin, item, kind, api_version)
        if entry.key in seen:
            raise ValueError(
                f"{origin}: the {kind.key} {entry.key!r} is also used by {seen[entry.key]}; "
                f"each {kind.label} is matched by {kind.key}, so they must differ."
            )
        seen[entry.key] = origin
        checked.append(entry)
    return checked


def _check_one(origin: str, item: Any, kind: EntryKind, api_version: str) -> SourceEntry:
    if not isinstance(item, Mapping):
        raise ValueError(f"{origin}: a {kind.label} must be a dict, got {type(item).__name__}.")
    fields: dict[str, Any] = {}
    for name, value in item.items():
        canonical = kind.fields.get(name) if isinstance(name, str) else None
        if canonical is None:
            accepted = ", ".join(sorted(kind.fields))
            raise ValueError(f"{origin}: unknown field {name!r} for a {kind.label} (accepted: {accepted}).")
        if canonical in fields and value is not None and fields[canonical] is not None:
            raise ValueError(f"{origin}: {name!r} repeats a field given under another name.")
        if value is not None or canonical not in fields:
            fields[canonical] = value
    for name in (kind.key, "body", *kind.required):
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{origin}: the field {name!r} must be a non-empty string, got {value!r}.")
    for name, value in fields.items():
        if value is None or name in (kind.key, "body"):
            continue
        if name == "is_enabled":
            if not isinstance(value, bool):
                raise ValueError(f"{origin}: the field 'is_enabled' must be true or false, got {value!r}.")
        elif not isinstance(value, str) or not value.strip():
            raise ValueError(f"{origin}: the field {name!r} must be a non-empty string, got {value!r}.")
    macro = fields.get("macro")
    if macro is not None and not MACRO_PATTERN.match(macro):
        raise ValueError(
            f"{origin}: the field 'macro' must look like '!name' (letters, digits, _ or -), got {macro!r}."
        )
    if kind is KNOWLEDGE and api_version == "v3" and macro is not None:
        raise ValueError(
            f"{origin}: the field 'macro' is not accepted on Devin API v3 (v3 knowledge notes have no macro)."
        )
    if kind is KNOWLEDGE and api_version == "v1" and fields.get("is_enabled") is not None:
        raise ValueError(f"{origin}: the field 'is_enabled' exists on Devin API v3 only (this connection speaks v1).")
    key = fields.pop(kind.key).strip()
    body = fields.pop("body")
    others = {name: fields.get(name) for name in kind.fields.values() if name not in (kind.key, "body")}
    return SourceEntry(key=key, body=body, fields=others, origin=origin)


# --- the plan -----------------------------------------------------------------------------------


def is_managed(entry: Mapping[str, Any], marker: str) -> bool:
    """Whether a listed entry's body carries this sync's marker."""
    body = entry.get("body")
    return isinstance(body, str) and marker in body


def differing_fields(source: SourceEntry, current: Mapping[str, Any], kind: EntryKind, marker: str) -> list[str]:
    """The fields where Devin's entry differs from the source.

    READING: Devin may trim a body's surrounding whitespace, so bodies are compared stripped; a
    missing or empty optional value equals ``None``.
    """
    changed = []
    if str(current.get("body") or "").strip() != source.full_body(marker).strip():
        changed.append("body")
    for name in kind.always_compared + kind.compared_when_given:
        wanted = source.fields.get(name)
        if name in kind.compared_when_given and wanted is None:
            continue
        have = current.get(name)
        if (None if have == "" else have) != wanted:
            changed.append(name)
    return changed


def plan(
    source: Sequence[SourceEntry],
    listed: Iterable[Mapping[str, Any]],
    kind: EntryKind,
    *,
    marker: str,
    prune: bool,
    ignored_fields: Sequence[str] = (),
) -> list[Change]:
    """What to do, entry by entry: source entries in order, then listed entries the source lost.

    A source entry whose name matches a managed entry updates it (or leaves it unchanged); one
    whose name matches only entries this sync does not manage is skipped (never a second entry of
    that name); otherwise it is created. A managed entry whose name is no longer in the source is
    deleted with ``prune``, else skipped; so are extra managed entries sharing one name (kept: the
    first listed).

    :param source: The checked source entries.
    :param listed: What Devin lists (knowledge notes / live playbooks, in the hook's shared shape).
    :param kind: Knowledge notes or playbooks.
    :param marker: This sync's :func:`sync_marker`.
    :param prune: Delete managed entries that are no longer in the source.
    :param ignored_fields: Fields not compared (e.g. ``macro`` of v3 knowledge notes, which the
        API cannot set, so a macro set in the web app would otherwise read as a change every run).
    """
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for entry in listed:
        key = entry.get(kind.key)
        if isinstance(key, str):
            by_key.setdefault(key.strip(), []).append(entry)
    compared = dataclasses.replace(
        kind,
        always_compared=tuple(f for f in kind.always_compared if f not in ignored_fields),
        compared_when_given=tuple(f for f in kind.compared_when_given if f not in ignored_fields),
    )
    changes: list[Change] = []
    for wanted in source:
        same_name = by_key.pop(wanted.key, [])
        managed = [entry for entry in same_name if is_managed(entry, marker)]
        if not managed:
            if same_name:
                changes.append(
                    Change(
                        "skip",
                        wanted.key,
                        _id(same_name[0], kind),
                        source=wanted,
                        current=same_name[0],
                        reason=f"a {kind.label} of this {kind.key} exists that this sync does not manage "
                        "(no marker); it is left alone",
                    )
                )
            else:
                changes.append(Change("create", wanted.key, source=wanted))
            continue
        current, extras = managed[0], managed[1:]
        fields = differing_fields(wanted, current, compared, marker)
        action = "update" if fields else "unchanged"
        changes.append(Change(action, wanted.key, _id(current, kind), wanted, current, tuple(fields)))
        changes.extend(_leftover(extra, kind, prune, "a second managed entry of this name") for extra in extras)
    for entries in by_key.values():
        changes.extend(
            _leftover(entry, kind, prune, "no longer in the source") for entry in entries if is_managed(entry, marker)
        )
    return changes


def _leftover(entry: Mapping[str, Any], kind: EntryKind, prune: bool, why: str) -> Change:
    key = str(entry.get(kind.key))
    if prune:
        return Change("delete", key, _id(entry, kind), current=entry, reason=why)
    return Change("skip", key, _id(entry, kind), current=entry, reason=f"{why}; prune=True would delete it")


def _id(entry: Mapping[str, Any], kind: EntryKind) -> str | None:
    value = entry.get(kind.id_field)
    return None if value is None else str(value)
