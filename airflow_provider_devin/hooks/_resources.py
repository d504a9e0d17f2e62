"""The org resources of :class:`~airflow_provider_devin.hooks.devin.DevinHook`: attachments,
secrets, knowledge notes and playbooks, on either API version (a mixin, kept apart so the hook
module stays about sessions).

Return values are Devin's own bodies, which differ by version (v1 ``KnowledgeEntry`` / v3
``KnowledgeNoteV3``, …); list methods follow every page (v3 is cursor-paged, v1 returns all).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

from airflow_provider_devin._compat import mask_secret
from airflow_provider_devin.api_types import KnowledgeEntry, KnowledgeListing, Playbook, SecretMetadata
from airflow_provider_devin.exceptions import DevinResponseError
from airflow_provider_devin.hooks._dialect import ApiDialect, Page
from airflow_provider_devin.hooks._http import ApiRequest

#: Most pages one listing follows before it is called a loop.
MAX_PAGES = 1000


class ResourceMethods:
    """Attachments, secrets, knowledge and playbooks; needs the hook's ``_send`` and ``dialect``."""

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
        raise DevinResponseError(
            f"Devin API: {request.operation} kept returning next pages (cursor {cursor!r} repeated or more "
            f"than {MAX_PAGES} pages); refusing to loop.",
            operation=request.operation,
            method=request.method,
            path=request.path,
        )

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

        v1 notes carry ``id`` and ``trigger_description``; v3 notes ``note_id`` and ``trigger``
        (v3 lists folders elsewhere: ``folders`` is empty).
        """
        folders: list[dict[str, Any]] = []

        def read(dialect: ApiDialect, body: Any, cursor: str | None) -> Page:
            page, page_folders = dialect.read_knowledge_page(body)
            folders.extend(page_folders)
            return page

        notes = list(self._all_pages(lambda d, c: d.list_knowledge(cursor=c), read))
        return cast(KnowledgeListing, {"knowledge": notes, "folders": folders})

    def create_knowledge(
        self,
        name: str,
        body: str,
        trigger_description: str,
        *,
        macro: str | None = None,
        parent_folder_id: str | None = None,
        pinned_repo: str | None = None,
        is_enabled: bool | None = None,
    ) -> KnowledgeEntry:
        """Create a knowledge note.

        :param name: Display name.
        :param body: What Devin reads when the note is triggered.
        :param trigger_description: When Devin should pull the note in (v3 ``trigger``).
        :param macro: Optional macro (v1 only).
        :param parent_folder_id: Folder to put it in (v3 ``folder_id``).
        :param pinned_repo: ``None`` (no pinning), ``"all"`` or ``"owner/repo"``.
        :param is_enabled: Whether the note is active (v3 only).
        """
        return cast(
            KnowledgeEntry,
            self._send(
                lambda d: d.create_knowledge(
                    name,
                    body,
                    trigger_description,
                    macro=macro,
                    parent_folder_id=parent_folder_id,
                    pinned_repo=pinned_repo,
                    is_enabled=is_enabled,
                )
            ),
        )

    def update_knowledge(
        self,
        note_id: str,
        name: str,
        body: str,
        trigger_description: str,
        *,
        macro: str | None = None,
        parent_folder_id: str | None = None,
        pinned_repo: str | None = None,
        is_enabled: bool | None = None,
    ) -> KnowledgeEntry:
        """Replace a knowledge note (a full replacement: every required field is sent).

        :param note_id: The note's id (v1 ``id``, v3 ``note_id``).
        :param name: Display name.
        :param body: What Devin reads.
        :param trigger_description: When Devin should pull it in.
        :param macro: Optional macro (v1 only).
        :param parent_folder_id: Folder.
        :param pinned_repo: ``None``, ``"all"`` or ``"owner/repo"``.
        :param is_enabled: Whether the note is active (v3 only).
        """
        return cast(
            KnowledgeEntry,
            self._send(
                lambda d: d.update_knowledge(
                    note_id,
                    name,
                    body,
                    trigger_description,
                    macro=macro,
                    parent_folder_id=parent_folder_id,
                    pinned_repo=pinned_repo,
                    is_enabled=is_enabled,
                )
            ),
        )

    def delete_knowledge(self, note_id: str) -> None:
        """Delete a knowledge note.

        :param note_id: The note's id.
        """
        self._send(lambda d: d.delete_knowledge(note_id))

    # --- playbooks ------------------------------------------------------------------------------

    def list_playbooks(self) -> list[Playbook]:
        """List the team playbooks (every page)."""
        items = self._all_pages(lambda d, c: d.list_playbooks(cursor=c), lambda d, body, _: d.read_playbook_page(body))
        return cast(list[Playbook], list(items))

    def create_playbook(self, title: str, body: str, *, macro: str | None = None) -> Playbook:
        """Create a team playbook.

        :param title: Title (non-empty).
        :param body: Instructions (non-empty).
        :param macro: Optional ``!name`` macro.
        """
        return cast(Playbook, self._send(lambda d: d.create_playbook(title, body, macro=macro)))

    def get_playbook(self, playbook_id: str) -> Playbook:
        """Fetch a playbook.

        :param playbook_id: ``playbook-…``.
        """
        return cast(Playbook, self._send(lambda d: d.get_playbook(playbook_id)))

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
