"""The org resources of :class:`~airflow_provider_devin.hooks.devin.DevinHook`: attachments,
secrets, knowledge notes and playbooks, on either API version (a mixin, kept apart so the hook
module stays about sessions).

Knowledge notes and playbooks come back in ONE shape on both versions: Devin's own body plus the
other version's names for the same fields (:func:`knowledge_note`, :func:`playbook_entry`), so a
DAG written against v1 (``id``, ``trigger_description``, ``parent_folder_id``) runs unchanged on v3
and one written against v3 (``note_id``, ``trigger``, ``folder_id``) runs on v1. Secrets are
``SecretMetadata`` on both. List methods follow every page (v3 is cursor-paged, v1 returns all).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Unpack, cast

from airflow_provider_devin._compat import mask_secret
from airflow_provider_devin.api_types import KnowledgeEntry, KnowledgeListing, Playbook, SecretMetadata
from airflow_provider_devin.hooks._dialect import ApiDialect, KnowledgeFields, Page
from airflow_provider_devin.hooks._http import ApiRequest, response_error

#: Most pages one listing follows before it is called a loop.
MAX_PAGES = 1000

#: Knowledge-note fields that mean the same on both versions: ``(v1 name, v3 name)``.
NOTE_ALIASES = (("id", "note_id"), ("trigger_description", "trigger"), ("parent_folder_id", "folder_id"))


def knowledge_note(body: Any) -> dict[str, Any]:
    """A knowledge note (either version's body) in the shape both versions share.

    Every key Devin sent is kept; each pair of :data:`NOTE_ALIASES` is then filled from whichever
    side is present, and ``macro`` / ``pinned_repo`` default to ``None``. So a v3 note also
    carries ``id`` (= ``note_id``), ``trigger_description`` (= ``trigger``) and
    ``parent_folder_id`` (= ``folder_id``); a v1 note also carries ``note_id``, ``trigger`` and
    ``folder_id``. Fields that exist in one version only (v3 ``is_enabled``, ``folder_path``,
    ``access_type``; v1 ``created_by``) are passed through, not invented.

    :param body: The note as Devin returned it (a non-dict, e.g. v1's empty DELETE body, gives ``{}``).
    """
    if not isinstance(body, dict):
        return {}
    note = dict(body)
    for v1_name, v3_name in NOTE_ALIASES:
        value = note.get(v1_name, note.get(v3_name))
        note.setdefault(v1_name, value)
        note.setdefault(v3_name, value)
    note.setdefault("macro", None)
    note.setdefault("pinned_repo", None)
    return note


def playbook_entry(body: Any) -> dict[str, Any]:
    """A playbook (either version's body) in the shape both versions share.

    Every key Devin sent is kept; ``macro`` defaults to ``None`` and ``status`` is always present:
    v1 sends it (``published``, ``deleted``); v3 has no status field, so it is ``None`` there
    (READING: v3 lists and returns only live playbooks, so ``status != "deleted"`` holds for every
    v3 entry, as a v1-era filter expects). The authors (v1 ``created_by_user_id``, v3
    ``created_by``) are passed through as sent: the contract does not say they hold the same value.

    :param body: The playbook as Devin returned it.
    """
    if not isinstance(body, dict):
        return {}
    entry = dict(body)
    entry.setdefault("macro", None)
    entry.setdefault("status", None)
    return entry


class PagedCalls:
    """What the hook's mixins share: the hook's ``_send`` and ``dialect``, and the page walk."""

    def _send(self, build: Callable[[ApiDialect], ApiRequest], *, files: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError  # pragma: no cover - provided by DevinHook

    @property
    def dialect(self) -> ApiDialect:
        raise NotImplementedError  # pragma: no cover - provided by DevinHook

    def _all_pages(
        self,
        build: Callable[[ApiDialect, str | None], ApiRequest],
        read: Callable[[ApiDialect, Any, str | None], Page],
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, following ``next_cursor``; a repeated cursor is an error, not a loop.

        :param build: the request for a page, given the cursor (``None`` for the first).
        :param read: the page from its body (and the cursor that fetched it).
        """
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            request_cursor = cursor
            page = read(self.dialect, self._send(lambda d: build(d, request_cursor)), request_cursor)  # noqa: B023
            yield from page.items
            if page.next_cursor is None:
                return
            if page.next_cursor in seen:
                break
            seen.add(page.next_cursor)
            cursor = page.next_cursor
        request = build(self.dialect, cursor)
        raise response_error(
            request,
            f"Devin API: {request.operation} kept returning next pages (cursor {cursor!r} repeated or more "
            f"than {MAX_PAGES} pages); refusing to loop.",
        )


class ResourceMethods(PagedCalls):
    """Attachments, secrets, knowledge and playbooks; needs the hook's ``_send`` and ``dialect``."""

    # --- attachments ----------------------------------------------------------------------------

    def upload_attachment(self, file: str | os.PathLike[str] | bytes | BinaryIO, *, filename: str | None = None) -> str:
        """Upload a file for Devin.

        On v3 pass the URL in ``attachment_urls`` of ``create_session`` / ``send_message``; on v1
        reference it in the prompt or a message with an ``ATTACHMENT:"<url>"`` line.

        :param file: A local path, the file's bytes, or a binary file object.
        :param filename: Name to upload under (default: the path's or file object's name; bytes
            otherwise upload as ``attachment.bin``).
        :return: The attachment URL.
        """
        name, content = read_upload(file, filename)
        # Bytes, not a stream: a retry (only after a refused connection) must resend the whole file.
        files = {"file": (name, content, "application/octet-stream")}
        body = self._send(lambda d: d.upload_attachment(name), files=files)
        return self.dialect.read_attachment_url(body, b"" if body is None else str(body).encode())

    def download_attachment(self, url_or_path: str) -> bytes:
        """Download an attachment (Devin answers with a 307 to a short-lived storage URL; the key is
        not forwarded to that other host).

        :param url_or_path: The attachment URL as upload returned it, or ``"<uuid>/<name>"``.
        :return: The file's bytes.
        """
        return cast(bytes, self._send(lambda d: d.download_attachment(url_or_path)))

    # --- secrets --------------------------------------------------------------------------------

    def list_secrets(self) -> list[SecretMetadata]:
        """List the org's secrets (metadata only; values are never returned), as
        ``{id, type, key, created_at}`` on both versions."""
        items = self._all_pages(lambda d, c: d.list_secrets(cursor=c), lambda d, body, _: d.read_secret_page(body))
        return cast(list[SecretMetadata], list(items))

    def create_secret(self, type: str, key: str, value: str, *, sensitive: bool = True, note: str | None = None) -> str:
        """Create an org secret; available to sessions created after it.

        :param type: ``cookie``, ``key-value`` or ``totp``.
        :param key: Its name, unique in the org.
        :param value: The secret value (masked in Airflow logs from here on).
        :param sensitive: Redact the value in Devin's logs (v3 ``is_sensitive``).
        :param note: What it is for.
        :return: The new secret's id.
        """
        if isinstance(value, str) and value:
            mask_secret(value)
        body = self._send(lambda d: d.create_secret(type, key, value, sensitive=sensitive, note=note))
        return self.dialect.read_created_secret_id(body)

    def delete_secret(self, secret_id: str) -> str | None:
        """Delete an org secret.

        :param secret_id: The secret's id.
        :return: Devin's ``message`` on v1; on v3 (which returns the deleted secret) its id.
        """
        body = self._send(lambda d: d.delete_secret(secret_id))
        return self.dialect.read_detail(body, "message") or self.dialect.read_detail(body, "secret_id")

    # --- knowledge ------------------------------------------------------------------------------

    def list_knowledge(self) -> KnowledgeListing:
        """List knowledge notes and (v1) folders: ``{"knowledge": [...], "folders": [...]}``.

        Each note carries both versions' names (see :func:`knowledge_note`): ``id`` = ``note_id``,
        ``trigger_description`` = ``trigger``, ``parent_folder_id`` = ``folder_id``. v3 lists
        folders elsewhere, so ``folders`` is empty there.
        """
        folders: list[dict[str, Any]] = []

        def read(dialect: ApiDialect, body: Any, cursor: str | None) -> Page:
            page, page_folders = dialect.read_knowledge_page(body)
            folders.extend(page_folders)
            return page

        notes = [knowledge_note(item) for item in self._all_pages(lambda d, c: d.list_knowledge(cursor=c), read)]
        return cast(KnowledgeListing, {"knowledge": notes, "folders": folders})

    def create_knowledge(
        self, name: str, body: str, trigger_description: str, **fields: Unpack[KnowledgeFields]
    ) -> KnowledgeEntry:
        """Create a knowledge note; returns it in the shared shape (see :meth:`list_knowledge`).
        ``macro``, ``parent_folder_id``, ``pinned_repo`` and ``is_enabled`` are keyword-only and optional.

        :param name: Display name.
        :param body: What Devin reads when the note is triggered.
        :param trigger_description: When Devin should pull the note in (sent as v3 ``trigger``).
        :param macro: Optional macro (v1 only: v3 notes take no macro on create; giving one there
            raises ``UnsupportedInVersion`` before any request).
        :param parent_folder_id: Folder to put it in (sent as v3 ``folder_id``).
        :param pinned_repo: ``None`` (no pinning), ``"all"`` or ``"owner/repo"``.
        :param is_enabled: Whether the note is active (v3 only).
        """
        created = self._send(lambda d: d.create_knowledge(name, body, trigger_description, **fields))
        return cast(KnowledgeEntry, knowledge_note(created))

    def update_knowledge(
        self, note_id: str, name: str, body: str, trigger_description: str, **fields: Unpack[KnowledgeFields]
    ) -> KnowledgeEntry:
        """Replace a knowledge note (a full replacement: every required field is sent); returns it
        in the shared shape. The optional fields are keyword-only, as for :meth:`create_knowledge`.

        :param note_id: The note's id (``id`` or ``note_id`` of a listed note: the same value).
        :param name: Display name.
        :param body: What Devin reads.
        :param trigger_description: When Devin should pull it in (v3 ``trigger``).
        :param macro: Optional macro (v1 only).
        :param parent_folder_id: Folder (v3 ``folder_id``).
        :param pinned_repo: ``None``, ``"all"`` or ``"owner/repo"``.
        :param is_enabled: Whether the note is active (v3 only).
        """
        updated = self._send(lambda d: d.update_knowledge(note_id, name, body, trigger_description, **fields))
        return cast(KnowledgeEntry, knowledge_note(updated))

    def delete_knowledge(self, note_id: str) -> None:
        """Delete a knowledge note.

        :param note_id: The note's id.
        """
        self._send(lambda d: d.delete_knowledge(note_id))

    # --- playbooks ------------------------------------------------------------------------------

    def list_playbooks(self) -> list[Playbook]:
        """List the team playbooks (every page), each in the shared shape (:func:`playbook_entry`:
        ``macro`` and ``status`` always present; ``status`` is ``None`` on v3)."""
        items = self._all_pages(lambda d, c: d.list_playbooks(cursor=c), lambda d, body, _: d.read_playbook_page(body))
        return cast(list[Playbook], [playbook_entry(item) for item in items])

    def create_playbook(self, title: str, body: str, *, macro: str | None = None) -> Playbook:
        """Create a team playbook; returns it in the shared shape.

        :param title: Title (non-empty).
        :param body: Instructions (non-empty).
        :param macro: Optional ``!name`` macro.
        """
        return cast(Playbook, playbook_entry(self._send(lambda d: d.create_playbook(title, body, macro=macro))))

    def get_playbook(self, playbook_id: str) -> Playbook:
        """Fetch a playbook, in the shared shape.

        :param playbook_id: ``playbook-…``.
        """
        return cast(Playbook, playbook_entry(self._send(lambda d: d.get_playbook(playbook_id))))

    def update_playbook(self, playbook_id: str, title: str, body: str, *, macro: str | None = None) -> str | None:
        """Replace a team playbook's title, body and macro.

        :param playbook_id: ``playbook-…``.
        :param title: New title.
        :param body: New instructions.
        :param macro: Optional ``!name`` macro.
        :return: Devin's ``status`` on v1 (e.g. ``"success"``); ``None`` on v3, which returns the
            playbook itself (read it with :meth:`get_playbook`).
        """
        return self.dialect.read_detail(
            self._send(lambda d: d.update_playbook(playbook_id, title, body, macro=macro)), "status"
        )

    def delete_playbook(self, playbook_id: str) -> str | None:
        """Delete a playbook (Devin marks it deleted and removes its macro).

        :param playbook_id: ``playbook-…``.
        :return: Devin's ``status`` on v1; ``None`` on v3.
        """
        return self.dialect.read_detail(self._send(lambda d: d.delete_playbook(playbook_id)), "status")


def read_upload(file: str | os.PathLike[str] | bytes | BinaryIO, filename: str | None) -> tuple[str, bytes]:
    """``(name, content)`` of what :meth:`ResourceMethods.upload_attachment` was given."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        return filename or "attachment.bin", bytes(file)
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            raise ValueError(f"file {str(path)!r} does not exist or is not a regular file.")
        return filename or path.name, path.read_bytes()
    if isinstance(file, io.IOBase) or hasattr(file, "read"):
        content = file.read()
        if not isinstance(content, (bytes, bytearray)):
            raise ValueError("file must be opened in binary mode ('rb').")
        name = filename or os.path.basename(str(getattr(file, "name", "") or "")) or "attachment.bin"
        return name, bytes(content)
    raise ValueError(f"file must be a path, bytes or a binary file object, got {type(file).__name__}.")
