"""The "Devin Session" button on a task instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_devin._compat import BaseOperatorLink, get_xcom_value

if TYPE_CHECKING:
    from airflow_provider_devin._compat import BaseOperator

__all__ = ["SESSION_ID_XCOM_KEY", "SESSION_URL_XCOM_KEY", "DevinSessionLink"]

#: XCom key of the session id, pushed as soon as the session exists.
SESSION_ID_XCOM_KEY = "session_id"
#: XCom key of the session's web URL, pushed as soon as the session exists.
SESSION_URL_XCOM_KEY = "session_url"


class DevinSessionLink(BaseOperatorLink):
    """Link to the Devin web page of the session a task created, reattached to or waits on.

    Its ``xcom_key`` is the ``session_url`` XCom the operators push the moment the session exists,
    so on Airflow 3 the button works while the task is still running or deferred (by default the
    link XCom is written only when an attempt ends).
    """

    name = "Devin Session"

    @property
    def xcom_key(self) -> str:
        """The XCom key holding the session URL (``session_url``)."""
        return SESSION_URL_XCOM_KEY

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        """Return the session URL pushed by the task, or ``""`` before a session exists.

        :param operator: The task the link belongs to.
        :param ti_key: The task instance (key) to look up.
        """
        url = get_xcom_value(ti_key=ti_key, key=SESSION_URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
