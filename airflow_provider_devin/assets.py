"""Asset events that carry a Devin result, so downstream DAGs can be scheduled on it.

When a Devin task declares ``outlets``, Airflow emits one asset event per asset when the task
succeeds. The operators fill each event's ``extra`` with the session they waited on::

    {
        "session_id": "devin-…",
        "url": "https://app.devin.ai/sessions/…",
        "pull_request_urls": ["https://github.com/acme/api/pull/7"],
        "acus_consumed": 1.5,      # v3; None on v1, which does not report ACUs
        "status": "finished",      # the result's status_enum (v1's vocabulary on both API versions)
    }

A downstream DAG reads it from ``triggering_asset_events`` (Airflow 3) or
``triggering_dataset_events`` (2.11).

READINGS: ``status`` is the result's ``status_enum``, not v3's raw ``status`` (which is
``running`` for a finished turn), so a consumer reads the same word on both API versions. Keys the
task already put into an event's ``extra`` (e.g. from ``pre_execute``) are kept unless they are one
of the five above. Asset aliases get nothing: an alias names no one asset, and choosing one for the
user would be a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_devin._compat import Context

__all__ = ["ASSET_EXTRA_KEYS", "asset_extra", "record_asset_events"]

#: The keys the provider sets in each outlet's asset event ``extra``.
ASSET_EXTRA_KEYS = ("session_id", "url", "pull_request_urls", "acus_consumed", "status")


def asset_extra(result: Mapping[str, Any]) -> dict[str, Any]:
    """The asset event ``extra`` for one task result (the operators' result dict).

    :param result: the dict the operator returns (``session_id``, ``url``, ``pull_request_urls``,
        ``acus_consumed``, ``status_enum``, ...).
    """
    return {
        "session_id": result.get("session_id"),
        "url": result.get("url"),
        "pull_request_urls": list(result.get("pull_request_urls") or []),
        "acus_consumed": result.get("acus_consumed"),
        "status": result.get("status_enum"),
    }


def record_asset_events(context: Context, outlets: Iterable[Any], result: Mapping[str, Any]) -> int:
    """Put the result into the asset event of every asset among ``outlets``; return how many.

    Does nothing (and returns 0) when the task has no asset outlets or the context has no
    ``outlet_events`` accessor (an Airflow without asset events, or a hand-built context).

    :param context: the task's Airflow context.
    :param outlets: the task's ``outlets``.
    :param result: the operator's result dict.
    """
    outlets = list(outlets or [])
    if not outlets:
        return 0
    events: Any = context.get("outlet_events")
    if events is None:
        return 0
    from airflow_provider_devin._compat import asset_outlet_types

    kinds = asset_outlet_types()
    extra = asset_extra(result)
    count = 0
    for outlet in outlets:
        if not isinstance(outlet, kinds):
            continue
        accessor = events[outlet]
        accessor.extra = {**(accessor.extra or {}), **extra}
        count += 1
    return count
