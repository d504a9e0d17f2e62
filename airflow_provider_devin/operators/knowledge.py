"""Knowledge notes and playbooks as code: keep Devin's in step with a folder of Markdown files or a
list of entries written in the DAG.

``DevinKnowledgeSyncOperator`` upserts knowledge notes by ``name``, ``DevinPlaybookSyncOperator``
team playbooks by ``title``. Each body the operators write ends with a marker naming who manages it
(``managed_by``, default ``<dag_id>.<task_id>``); only entries with that marker are ever updated or
deleted, so notes and playbooks people wrote are never touched. Entries the operator manages and no
longer finds in the source are deleted only with ``prune=True``. A ``dry_run`` lists and logs the
plan and writes nothing.

Retry safety: every run starts from Devin's listing, so a retry after a partial run (some entries
written, then a failure) finds what the first try wrote and converges, never creating a second
entry of the same name. The plan itself is pure logic in :mod:`._sync_plan`.

Heavy imports (the hook) happen inside methods: DAG files import this module on every parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_devin._compat import BaseOperator
from airflow_provider_devin.exceptions import DevinAPIError, DevinRateLimitError, DevinValidationError
from airflow_provider_devin.operators import _inputs
from airflow_provider_devin.operators._sync_plan import (
    KNOWLEDGE,
    PLAYBOOKS,
    Change,
    EntryKind,
    SourceEntry,
    check_entries,
    is_managed,
    plan,
    read_folder,
    sync_marker,
)
from airflow_provider_devin.operators._waiting import DevinHookMixin

if TYPE_CHECKING:
    from airflow_provider_devin._compat import Context

__all__ = ["DevinKnowledgeSyncOperator", "DevinPlaybookSyncOperator", "sync_marker"]

#: The lists of the result, in the order a reader looks for them.
RESULT_KEYS = ("created", "updated", "deleted", "unchanged", "skipped")
_LISTED_AS = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "unchanged": "unchanged",
    "skip": "skipped",
}

_VERBS = {"unchanged": "leave unchanged", "skip": "leave alone"}


class _DevinEntrySyncOperator(DevinHookMixin, BaseOperator):
    """What both sync operators share; a subclass says which kind of entry and how to write it."""

    kind: EntryKind
    template_fields: Sequence[str] = ("source_folder", "entries", "managed_by", "prune", "dry_run_mode")
    template_fields_renderers = {"entries": "json"}
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        source_folder: str | None = None,
        entries: Sequence[Mapping[str, Any]] | None = None,
        prune: bool | str = False,
        dry_run: bool | str = False,
        managed_by: str | None = None,
        devin_conn_id: str = "devin_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if source_folder is None and entries is None:
            raise ValueError(f"{type(self).__name__}: give source_folder (a folder of .md files) or entries (a list).")
        self.source_folder = source_folder
        self.entries = entries
        self.prune = prune
        # Not self.dry_run: BaseOperator has a dry_run() method (render the templates, run nothing).
        self.dry_run_mode = dry_run
        self.managed_by = managed_by
        self.devin_conn_id = devin_conn_id

    # --- what a subclass provides ----------------------------------------------------------------

    def _list_entries(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _create_entry(self, source: SourceEntry, body: str) -> str | None:
        """Create it; return its new id."""
        raise NotImplementedError

    def _update_entry(self, change: Change, body: str) -> None:
        raise NotImplementedError

    def _delete_entry(self, change: Change) -> None:
        raise NotImplementedError

    def _ignored_fields(self) -> tuple[str, ...]:
        """Fields the plan does not compare on this connection's API version."""
        return ()

    # --- the run ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        """Check the source, list Devin's entries, plan, then write (unless ``dry_run``).

        :return: ``{"created", "updated", "deleted", "unchanged", "skipped"}``, each a list of
            ``{"name", "id"}`` (a playbook's ``name`` is its title; an update adds ``fields``, a skip
            or delete its ``reason``), plus ``dry_run`` and ``managed_by``.
        """
        prune, dry_run = _flag("prune", self.prune), _flag("dry_run", self.dry_run_mode)
        source = self.read_source()  # every check before the first request
        managed_by = self.managed_by or f"{self.dag_id}.{self.task_id}"
        marker = sync_marker(managed_by)
        changes = plan(
            source, self._list_entries(), self.kind, marker=marker, prune=prune, ignored_fields=self._ignored_fields()
        )
        prefix = "dry run, nothing written: would " if dry_run else ""
        for change in changes:
            verb = _VERBS.get(change.action, change.action)
            self.log.info("%s%s %s %r%s", prefix, verb, self.kind.label, change.key, _detail(change))
        result: dict[str, Any] = {key: [] for key in RESULT_KEYS}
        for change in changes:
            if not dry_run:
                change = self._apply(change, marker)
            result[_LISTED_AS[change.action]].append(change.summary())
        counts = ", ".join(f"{len(result[key])} {key}" for key in RESULT_KEYS)
        self.log.info("%s%ss managed by %r: %s.", "Dry run: " if dry_run else "", self.kind.label, managed_by, counts)
        result["dry_run"] = dry_run
        result["managed_by"] = managed_by
        return result

    def read_source(self) -> list[SourceEntry]:
        """The checked source entries (files first, then ``entries``); no request is made.

        :raises ValueError: naming the file or ``entries[i]`` and the field that is wrong.
        """
        raw: list[tuple[str, Any]] = []
        if self.source_folder is not None:
            raw.extend(read_folder(self._folder(), self.kind))
        if self.entries is not None:
            if isinstance(self.entries, (str, bytes)) or not isinstance(self.entries, Sequence):
                raise ValueError(f"entries must be a list of dicts, got {type(self.entries).__name__}.")
            raw.extend((f"entries[{index}]", item) for index, item in enumerate(self.entries))
        return check_entries(raw, self.kind, api_version=self.hook.api_version)

    def _folder(self) -> Path:
        """``source_folder``: absolute, or relative to the DAG's folder (then ``template_searchpath``)."""
        if not isinstance(self.source_folder, (str, Path)) or not str(self.source_folder).strip():
            raise ValueError(f"source_folder must be a folder path, got {self.source_folder!r}.")
        folder = Path(self.source_folder)
        if folder.is_absolute():
            return folder
        for base in _inputs.dag_folders(self):
            if (Path(base) / folder).is_dir():
                return Path(base) / folder
        return folder

    def _apply(self, change: Change, marker: str) -> Change:
        """Carry one change out; a create returns the change with Devin's new id."""
        import dataclasses

        if change.action == "create":
            assert change.source is not None
            body = change.source.full_body(marker)
            try:
                entry_id = self._create_entry(change.source, body)
            except (DevinValidationError, DevinRateLimitError):
                raise
            except DevinAPIError:
                # The create may have happened with its answer lost (v3 creates are not idempotent):
                # look once before failing, so the task's retry is not the only thing that converges.
                entry_id = self._find_created(change.key, marker)
                if entry_id is None:
                    raise
                self.log.warning("The create of %r failed, but Devin has it (id %s): adopted.", change.key, entry_id)
            return dataclasses.replace(change, entry_id=entry_id)
        if change.action == "update":
            assert change.source is not None
            self._update_entry(change, change.source.full_body(marker))
        elif change.action == "delete":
            self._delete_entry(change)
        return change

    def _find_created(self, key: str, marker: str) -> str | None:
        for entry in self._list_entries():
            if entry.get(self.kind.key) == key and is_managed(entry, marker):
                value = entry.get(self.kind.id_field)
                return None if value is None else str(value)
        return None


def _flag(name: str, value: Any) -> bool:
    """A boolean argument, also as a template renders it (``"True"``, ``"false"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{name} must be True or False (or a template rendering to 'true' / 'false'), got {value!r}.")


def _detail(change: Change) -> str:
    if change.changed_fields:
        return f" (changed: {', '.join(change.changed_fields)})"
    if change.reason:
        return f" ({change.reason})"
    return "" if change.entry_id is None else f" (id {change.entry_id})"


class DevinKnowledgeSyncOperator(_DevinEntrySyncOperator):
    """Keep Devin's knowledge notes in step with Markdown files or a list of entries (upsert by ``name``).

    A source entry gives ``name``, ``body`` and ``trigger_description`` (v3's name ``trigger`` is
    accepted too), optionally ``pinned_repo`` (``"all"`` or ``"owner/repo"``), ``macro`` (v1 only),
    ``parent_folder_id`` / ``folder_id`` and ``is_enabled`` (v3 only). In a file these are the
    ``key: value`` lines of the front matter between ``---`` lines, the rest is the body, and
    ``name`` defaults to the file name without ``.md``. ``trigger_description``, ``pinned_repo``
    and ``macro`` left out mean "none" (a value set in Devin is replaced); a left-out folder or
    ``is_enabled`` keeps Devin's.

    :param source_folder: A folder of ``.md`` files, one note each: absolute, or relative to the
        DAG's folder (templated).
    :param entries: Notes as dicts, beside or instead of the folder (templated). ``entries=[]``
        with ``prune=True`` deletes every note this operator manages.
    :param prune: Delete managed notes that are no longer in the source (default ``False``;
        ``"{{ params.prune }}"`` works) (templated).
    :param dry_run: List and log what would change; write nothing (the result says what would)
        (templated, as ``dry_run_mode``), since ``BaseOperator.dry_run`` is a method.
    :param managed_by: Who manages the notes, written into each body's marker (default
        ``<dag_id>.<task_id>``; set it when two tasks must share the notes, or before renaming the
        task) (templated).
    :param devin_conn_id: The Airflow connection to Devin.
    """

    kind = KNOWLEDGE

    def _list_entries(self) -> list[dict[str, Any]]:
        return [dict(note) for note in self.hook.list_knowledge()["knowledge"]]

    def _create_entry(self, source: SourceEntry, body: str) -> str | None:
        fields = source.fields
        note = self.hook.create_knowledge(
            source.key,
            body,
            fields["trigger_description"],
            macro=fields["macro"],
            parent_folder_id=fields["parent_folder_id"],
            pinned_repo=fields["pinned_repo"],
            is_enabled=fields["is_enabled"],
        )
        value = note.get("id")
        return None if value is None else str(value)

    def _update_entry(self, change: Change, body: str) -> None:
        # A PUT replaces the whole note: what the source leaves out and Devin keeps (folder,
        # is_enabled) is sent back as Devin listed it.
        assert change.source is not None and change.current is not None and change.entry_id is not None
        fields, current = change.source.fields, change.current
        self.hook.update_knowledge(
            change.entry_id,
            change.key,
            body,
            fields["trigger_description"],
            macro=fields["macro"],
            parent_folder_id=fields["parent_folder_id"] or current.get("parent_folder_id"),
            pinned_repo=fields["pinned_repo"],
            is_enabled=fields["is_enabled"] if fields["is_enabled"] is not None else current.get("is_enabled"),
        )

    def _delete_entry(self, change: Change) -> None:
        assert change.entry_id is not None
        self.hook.delete_knowledge(change.entry_id)

    def _ignored_fields(self) -> tuple[str, ...]:
        # v3 notes take no macro through the API; one set in the web app is not a difference.
        return ("macro",) if self.hook.api_version == "v3" else ()


class DevinPlaybookSyncOperator(_DevinEntrySyncOperator):
    """Keep Devin's team playbooks in step with Markdown files or a list of entries (upsert by ``title``).

    A source entry gives ``title`` and ``body``, optionally ``macro`` (``!name``). In a file these
    are the front matter's ``key: value`` lines between ``---`` lines, the rest is the body, and
    ``title`` defaults to the file name without ``.md``. A left-out ``macro`` means none (one set in
    Devin is removed). Playbooks Devin lists as deleted (v1) are ignored.

    :param source_folder: A folder of ``.md`` files, one playbook each: absolute, or relative to
        the DAG's folder (templated).
    :param entries: Playbooks as dicts, beside or instead of the folder (templated).
    :param prune: Delete managed playbooks that are no longer in the source (default ``False``)
        (templated).
    :param dry_run: List and log what would change; write nothing (templated, as ``dry_run_mode``).
    :param managed_by: Who manages the playbooks, written into each body's marker (default
        ``<dag_id>.<task_id>``) (templated).
    :param devin_conn_id: The Airflow connection to Devin.
    """

    kind = PLAYBOOKS

    def _list_entries(self) -> list[dict[str, Any]]:
        return [dict(playbook) for playbook in self.hook.list_playbooks() if playbook.get("status") != "deleted"]

    def _create_entry(self, source: SourceEntry, body: str) -> str | None:
        playbook = self.hook.create_playbook(source.key, body, macro=source.fields["macro"])
        value = playbook.get("playbook_id")
        return None if value is None else str(value)

    def _update_entry(self, change: Change, body: str) -> None:
        assert change.source is not None and change.entry_id is not None
        self.hook.update_playbook(change.entry_id, change.key, body, macro=change.source.fields["macro"])

    def _delete_entry(self, change: Change) -> None:
        assert change.entry_id is not None
        self.hook.delete_playbook(change.entry_id)
