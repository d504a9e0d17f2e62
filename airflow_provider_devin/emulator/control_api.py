"""The control API under ``/_emulator/`` (never under a Devin path): test-only knobs, no auth.

The Python client for it is :class:`airflow_provider_devin.emulator.control.EmulatorControl`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from airflow_provider_devin.emulator import scenarios
from airflow_provider_devin.emulator.faults import Fault
from airflow_provider_devin.emulator.state import ApiError, EmulatorState
from airflow_provider_devin.emulator.structured_output import NOT_GIVEN


class FaultParams(BaseModel):
    method: str = "*"
    path_pattern: str
    status: int | None = None
    retry_after: float | None = None
    omit_retry_after: bool = False
    delay: float | None = Field(default=None, ge=0)
    drop_connection: bool = False
    malformed_json: bool = False
    times: int = Field(default=1, ge=1)
    after_processing: bool = False


class RateLimitParams(BaseModel):
    duration_s: float = Field(gt=0)
    retry_after_s: float = Field(default=5.0, ge=0)


class ScenarioParams(BaseModel):
    scenario: str


class StatusParams(BaseModel):
    """Which fields were sent matters (see ``EmulatorControl.set_status``)."""

    status_enum: Any = None
    status: str | None = None
    status_detail: Any = None
    legacy_status: str | None = None

    def resolved(self) -> tuple[Any, str | None, tuple[str, Any] | None]:
        """``(status_enum or KEEP, legacy status, v3 pair or None)``."""
        given = self.model_fields_set
        status_enum = self.status_enum if "status_enum" in given else scenarios.KEEP
        legacy = self.legacy_status
        v3 = None
        if "status_detail" in given or "status_enum" not in given:
            if self.status is None:
                raise ApiError(400, "set_status with status_detail needs status (the v3 status, e.g. 'running').")
            v3 = (self.status, self.status_detail)
        elif self.status is not None:
            legacy = self.status  # the pre-v3 meaning: the v1 legacy status string
        return status_enum, legacy, v3


class OutputParams(BaseModel):
    value: Any  # required: null is a value (a session that reports no structured output)


class AcusParams(BaseModel):
    acus: float = Field(ge=0)


class AllowedTagsParams(BaseModel):
    patterns: list[str] | None = None


class ApiKeyParams(BaseModel):
    key: str = Field(min_length=1)
    email: str | None = None
    org_id: str | None = None
    principal: dict[str, Any] | None = None


class AdvanceParams(BaseModel):
    seconds: float = Field(ge=0)


class SpeedParams(BaseModel):
    speed: float = Field(gt=0)


class FolderParams(BaseModel):
    name: str
    description: str = ""


def build_router(state: EmulatorState) -> APIRouter:
    router = APIRouter(prefix="/_emulator")

    def set_and_echo(setter: Callable[[Any], object], name: str, value: Any) -> JSONResponse:
        """Apply a setting and answer with it (``{name: value}``)."""
        setter(value)
        return JSONResponse({name: value})

    def cleared(store: str) -> JSONResponse:
        """Empty one of the state's stores (``faults``, ``journal``)."""
        with state.lock:
            getattr(state, store).clear()
        return JSONResponse({"status": "cleared"})

    @router.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @router.get("/scenarios")
    async def list_scenarios() -> JSONResponse:
        return JSONResponse(sorted(scenarios.SCENARIOS))

    @router.get("/clock")
    async def clock() -> JSONResponse:
        return JSONResponse(state.clock_info())

    @router.post("/advance")
    async def advance(params: AdvanceParams) -> JSONResponse:
        state.advance(params.seconds)
        return JSONResponse(state.clock_info())

    @router.post("/speed")
    async def speed(params: SpeedParams) -> JSONResponse:
        state.set_speed(params.speed)
        return JSONResponse(state.clock_info())

    @router.post("/reset")
    async def reset() -> JSONResponse:
        state.reset()
        return JSONResponse({"status": "reset"})

    @router.get("/sessions")
    async def sessions() -> JSONResponse:
        return JSONResponse(state.control_sessions())

    @router.post("/sessions/{session_id}/scenario")
    async def set_scenario(session_id: str, params: ScenarioParams) -> JSONResponse:
        return JSONResponse(state.set_scenario(session_id, params.scenario))

    @router.post("/sessions/{session_id}/status")
    async def set_status(session_id: str, params: StatusParams) -> JSONResponse:
        status_enum, legacy, v3 = params.resolved()
        return JSONResponse(state.set_status(session_id, status_enum, legacy, v3))

    @router.post("/sessions/{session_id}/acus")
    async def set_acus(session_id: str, params: AcusParams) -> JSONResponse:
        return JSONResponse(state.set_acus(session_id, params.acus))

    @router.post("/sessions/{session_id}/structured-output")
    async def set_structured_output(session_id: str, params: OutputParams) -> JSONResponse:
        return JSONResponse(state.set_structured_output(session_id, params.value))

    @router.get("/default-structured-output")
    async def default_structured_output() -> JSONResponse:
        with state.lock:
            value = state.default_structured_output
        given = value is not NOT_GIVEN
        return JSONResponse({"given": given, "value": value if given else None})

    @router.post("/default-structured-output")
    async def set_default_structured_output(params: OutputParams) -> JSONResponse:
        state.set_default_structured_output(params.value)
        return JSONResponse({"given": True, "value": params.value})

    @router.delete("/default-structured-output")
    async def clear_default_structured_output() -> JSONResponse:
        state.set_default_structured_output(NOT_GIVEN)
        return JSONResponse({"given": False, "value": None})

    @router.get("/allowed-tags")
    async def allowed_tags() -> JSONResponse:
        with state.lock:
            return JSONResponse({"patterns": state.allowed_tags})

    @router.post("/allowed-tags")
    async def set_allowed_tags(params: AllowedTagsParams) -> JSONResponse:
        return set_and_echo(state.set_allowed_tags, "patterns", params.patterns)

    @router.post("/api-keys")
    async def add_api_key(params: ApiKeyParams) -> JSONResponse:
        settings = {name: value for name, value in params.model_dump().items() if name != "key" and value is not None}
        return JSONResponse(state.add_api_key(params.key, settings))

    @router.post("/default-scenario")
    async def default_scenario(params: ScenarioParams) -> JSONResponse:
        return set_and_echo(state.set_default_scenario, "scenario", params.scenario)

    @router.post("/rate-limit")
    async def start_rate_limit(params: RateLimitParams) -> JSONResponse:
        with state.lock:
            return JSONResponse(state.faults.start_storm(params.duration_s, params.retry_after_s).as_dict())

    @router.get("/rate-limit")
    async def rate_limit() -> JSONResponse:
        with state.lock:
            storm = state.faults.storm
            return JSONResponse(storm.as_dict() if storm is not None else {"active": False, "answered": 0})

    @router.delete("/rate-limit")
    async def stop_rate_limit() -> JSONResponse:
        with state.lock:
            storm, state.faults.storm = state.faults.storm, None
            return JSONResponse({"active": False, "answered": storm.answered if storm is not None else 0})

    @router.get("/faults")
    async def list_faults() -> JSONResponse:
        with state.lock:
            return JSONResponse(state.faults.active())

    @router.post("/faults")
    async def add_fault(params: FaultParams) -> JSONResponse:
        try:
            fault = Fault(**params.model_dump())
        except ValueError as err:
            raise ApiError(400, str(err)) from err
        return JSONResponse(state.add_fault(fault))

    @router.delete("/faults")
    async def clear_faults() -> JSONResponse:
        return cleared("faults")

    @router.get("/journal")
    async def journal(method: str | None = None, path: str | None = None) -> JSONResponse:
        entries = state.journal_entries()
        if method is not None:
            entries = [e for e in entries if e["method"] == method.upper()]
        if path is not None:
            entries = [e for e in entries if fnmatch.fnmatchcase(e["path"], path)]
        return JSONResponse(entries)

    @router.delete("/journal")
    async def clear_journal() -> JSONResponse:
        return cleared("journal")

    @router.post("/knowledge/folders")
    async def add_folder(params: FolderParams) -> JSONResponse:
        return JSONResponse(state.add_folder(params.name, params.description))

    return router
