"""Finding sessions: one page, every page, or every session with a tag, on either API version (a
mixin of :class:`~airflow_provider_devin.hooks.devin.DevinHook`, apart so the hook module keeps to
one session at a time).

v1 pages by ``offset`` until a short page; v3 by cursor until ``has_next_page`` is false (a
repeated cursor is an error, not a loop). Items are Devin's own bodies (v1 ``SessionSummary``, v3
``SessionResponse``); :meth:`SessionListMethods.find_sessions` returns the normalised view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Unpack, cast

from airflow_provider_devin.api_types import SessionResponse, SessionSummary
from airflow_provider_devin.hooks._dialect import ApiDialect, Page, SessionFilters
from airflow_provider_devin.hooks._http import ApiRequest
from airflow_provider_devin.hooks._resources import PagedCalls
from airflow_provider_devin.session import SessionView

if TYPE_CHECKING:
    from airflow_provider_devin.hooks._resolve import DialectResolver


class SessionListQuery(SessionFilters, total=False):
    """The keyword arguments of :meth:`SessionListMethods.list_sessions_page` (and of the async
    client's ``list_sessions``): ``tags``, ``user_email`` (v1), ``limit`` (default 100), ``offset``
    (v1), ``cursor``, and the v3 :class:`~airflow_provider_devin.hooks._dialect.SessionFilters`."""

    tags: Iterable[str] | None
    user_email: str | None
    limit: int
    offset: int | None
    cursor: str | None


class SessionListMethods(PagedCalls):
    """``list_sessions``, ``list_sessions_page``, ``iter_sessions``, ``find_sessions``; needs the
    hook's ``_send``, ``dialect``, ``resolver`` and ``session_view``."""

    @property
    def resolver(self) -> DialectResolver:
        raise NotImplementedError  # pragma: no cover - provided by DevinHook

    def session_view(self, body: Mapping[str, Any]) -> SessionView:
        raise NotImplementedError  # pragma: no cover - provided by DevinHook

    def list_sessions(
        self,
        tags: Iterable[str] | None = None,
        user_email: str | None = None,
        limit: int = 100,
        offset: int | None = None,
        *,
        cursor: str | None = None,
        **filters: Unpack[SessionFilters],
    ) -> list[SessionSummary | SessionResponse]:
        """One page of sessions (v1 ``SessionSummary`` items, v3 ``SessionResponse`` items).

        :param tags: Only sessions carrying these tags (sent as repeated ``tags`` parameters;
            whether several tags match with AND or OR is undocumented).
        :param user_email: Only sessions created by this user (v1 only).
        :param limit: Page size (v1 default 100, no cap; v3 ``first``, 1-200).
        :param offset: Number of sessions to skip (v1 only; v3 pages by ``cursor``).
        :param cursor: A previous page's ``next_cursor`` (see :meth:`list_sessions_page`).
        :param filters: v3 only: ``session_ids``, ``created_after``, ``created_before``,
            ``updated_after``, ``updated_before`` (integer epoch seconds), ``is_archived``.
        """
        page = self.list_sessions_page(
            tags=tags, user_email=user_email, limit=limit, offset=offset, cursor=cursor, **filters
        )
        return cast(list[SessionSummary | SessionResponse], page.items)

    def list_sessions_page(self, **query: Unpack[SessionListQuery]) -> Page:
        """:meth:`list_sessions` as a :class:`~airflow_provider_devin.hooks._dialect.Page`: the items
        and the ``next_cursor`` to pass as ``cursor`` (``None`` on the last page; on v1 an offset).
        Every argument is keyword-only and optional.

        :param tags: Only sessions carrying these tags.
        :param user_email: Only sessions created by this user (v1 only).
        :param limit: Page size (v3: 1-200).
        :param offset: Sessions to skip (v1 only).
        :param cursor: A previous page's ``next_cursor``.
        :param filters: v3 only, as for :meth:`list_sessions`.
        """
        build, read = session_page_request(query)
        body = self._send(build)  # validates before the dialect (and a v3 org) is resolved
        return read(self.dialect, body)

    def iter_sessions(
        self,
        tags: Iterable[str] | None = None,
        user_email: str | None = None,
        page_size: int = 100,
        **filters: Unpack[SessionFilters],
    ) -> Iterator[SessionSummary | SessionResponse]:
        """Iterate over every matching session, page by page (v1 by offset until a short page, v3
        by cursor until ``has_next_page`` is false).

        :param tags: Only sessions carrying these tags.
        :param user_email: Only sessions created by this user (v1 only).
        :param page_size: Sessions fetched per request (v3: at most 200).
        :param filters: v3 only, as for :meth:`list_sessions`.
        """
        from airflow_provider_devin.validation import validate_page_size

        validate_page_size(page_size, "page_size", self.resolver.validating().max_page_size)
        tag_list = list(tags) if tags is not None else None

        def build(dialect: ApiDialect, cursor: str | None) -> ApiRequest:
            return dialect.list_sessions(
                tags=tag_list, user_email=user_email, page_size=page_size, cursor=cursor, **filters
            )

        def read(dialect: ApiDialect, body: Any, cursor: str | None) -> Page:
            return dialect.read_session_page(body, page_size=page_size, cursor=cursor)

        return cast(Iterator[SessionSummary | SessionResponse], self._all_pages(build, read))

    def find_sessions(self, tag: str, *, max_sessions: int = 1000) -> list[SessionView]:
        """The sessions carrying ``tag``, newest first (by ``created_at``).

        Lists with the ``tags`` filter, following every page up to ``max_sessions`` listed items,
        and re-checks the tag on each item: the API does not document whether its filter is
        exact, AND or OR, so only sessions that really carry ``tag`` are returned.

        :param tag: The tag to look for (e.g. a task-instance identity tag).
        :param max_sessions: Stop after this many listed sessions (bounds the requests).
        """
        from airflow_provider_devin.validation import require_text

        require_text("tag", tag)
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
            raise ValueError(f"max_sessions must be a positive integer, got {max_sessions!r}.")
        page_size = min(max_sessions, self.resolver.validating().max_page_size or 100)
        found: list[SessionView] = []
        for scanned, item in enumerate(self.iter_sessions(tags=[tag], page_size=page_size), start=1):
            view = self.session_view(item)
            if tag in view.tags:
                found.append(view)
            if scanned >= max_sessions:
                break
        return newest_first(found)


def session_page_request(
    query: SessionListQuery,
) -> tuple[Callable[[ApiDialect], ApiRequest], Callable[[ApiDialect, Any], Page]]:
    """How one page of sessions is asked for and read (by the sync hook and the async client alike):
    ``(build, read)``, ``build(dialect)`` the request, ``read(dialect, body)`` its page."""
    tags, limit, cursor, offset = query.get("tags"), query.get("limit", 100), query.get("cursor"), query.get("offset")
    tag_list = list(tags) if tags is not None else None
    rest: dict[str, Any] = {name: value for name, value in query.items() if name not in ("tags", "limit")}
    if offset is not None and cursor is None:
        cursor = str(offset)  # v1 reads the next offset from the one this page began at

    def build(dialect: ApiDialect) -> ApiRequest:
        return dialect.list_sessions(tags=tag_list, page_size=limit, **rest)

    def read(dialect: ApiDialect, body: Any) -> Page:
        return dialect.read_session_page(body, page_size=limit, cursor=cursor)

    return build, read


def newest_first(views: Iterable[SessionView]) -> list[SessionView]:
    """Sessions sorted by ``created_at``, newest first (those without one last)."""
    views = list(views)
    dated = [view for view in views if view.created_at is not None]
    undated = [view for view in views if view.created_at is None]
    return sorted(dated, key=lambda view: view.created_at, reverse=True) + undated
