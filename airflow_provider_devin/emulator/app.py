"""Assemble the emulator: Devin v1 routes, web pages, control API, and the outer middleware."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_provider_devin.__version__ import __version__
from airflow_provider_devin.emulator import DEFAULT_SPEED, api_resources, api_sessions, control_api, web
from airflow_provider_devin.emulator.middleware import EmulatorMiddleware
from airflow_provider_devin.emulator.state import ApiError, EmulatorState


class EmulatorApp(EmulatorMiddleware):
    """The ASGI application to serve; ``.state`` is the in-memory world, ``.api`` the FastAPI app."""

    def __init__(self, api: FastAPI, state: EmulatorState) -> None:
        super().__init__(api, state)
        self.api = api


def create_app(
    speed: float = DEFAULT_SPEED,
    api_keys: Iterable[str] | Mapping[str, str] | None = None,
    state: EmulatorState | None = None,
) -> EmulatorApp:
    """Build the emulator's ASGI app.

    :param speed: emulated seconds per real second.
    :param api_keys: accepted keys (or a mapping key -> user email); default ``DEFAULT_API_KEY``.
    :param state: an existing state to serve (overrides ``speed`` and ``api_keys``).
    """
    state = state or EmulatorState(speed=speed, api_keys=api_keys)
    api = FastAPI(
        title="Devin API emulator",
        version=__version__,
        description="A local Devin v1 API for tests (airflow-provider-devin).",
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    for module in (api_sessions, api_resources, control_api, web):
        api.include_router(module.build_router(state))
    return EmulatorApp(api, state)


__all__ = ["EmulatorApp", "create_app"]
