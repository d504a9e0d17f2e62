"""The trigger example shown in docs/guides/trigger.md; run by tests/docs/test_guide_snippets.py."""

# --8<-- [start:run]
import asyncio
import time

from airflow_provider_devin.triggers.devin import DevinSessionTrigger


def wait_with_the_trigger(session_id: str) -> dict:
    trigger = DevinSessionTrigger(
        devin_conn_id="devin_default",
        session_id=session_id,
        poll_interval=1,
        deadline=time.time() + 600,  # absolute, in epoch seconds
        on_blocked="succeed",
    )
    # What the task stores in the metadata DB: plain values, no API key.
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_devin.triggers.devin.DevinSessionTrigger"
    assert set(kwargs) >= {"devin_conn_id", "session_id", "poll_interval", "deadline", "on_blocked"}

    async def first_event() -> dict:
        async for event in DevinSessionTrigger(**kwargs).run():  # rebuilt, as the triggerer does
            return event.payload
        raise AssertionError("the trigger ended without an event")

    event = asyncio.run(first_event())
    # {"status": "success", "session_id": ..., "message": ..., "summary": {...}}
    return event


# --8<-- [end:run]
