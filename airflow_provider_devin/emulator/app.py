"""Assemble the emulator: Devin v1 and v3 routes, web pages, control API, and the outer middleware."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_devin.__version__ import __version__
from airflow_provider_devin.emulator import (
    DEFAULT_SPEED,
    api_resources,
    api_sessions,
    api_v3_resources,
    api_v3_sessions,
    control_api,
    web,
)
from airflow_provider_devin.emulator.keys import KeyConfig
from airflow_provider_devin.emulator.middleware import EmulatorMiddleware
from airflow_provider_devin.emulator.problem import ApiError, is_v3, problem_response, summarize
from airflow_provider_devin.emulator.state import EmulatorState


class EmulatorApp(EmulatorMiddleware):
    """The ASGI application to serve; ``.state`` is the in-memory world, ``.api`` the FastAPI app."""

    def __init__(self, api: FastAPI, state: EmulatorState) -> None:
        super().__init__(api, state)
        self.api = api


def create_app(
    speed: float = DEFAULT_SPEED,
    api_keys: KeyConfig | None = None,
    state: EmulatorState | None = None,
) -> EmulatorApp:
    """Build the emulator's ASGI app.

    :param speed: emulated seconds per real second.
    :param api_keys: accepted keys (or a mapping key -> user email or key settings); default
        ``DEFAULT_API_KEY`` and ``DEFAULT_V3_API_KEY``.
    :param state: an existing state to serve (overrides ``speed`` and ``api_keys``).
    """
    state = state or EmulatorState(speed=speed, api_keys=api_keys)
    api = FastAPI(
        title="Devin API emulator",
        version=__version__,
        description="A local Devin API (v1 and the v3 organization API) for tests (airflow-provider-devin).",
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        if is_v3(request.url.path):
            return problem_response(exc.status_code, exc.detail, request.url.path, exc.errors)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_v3(request.url.path):
            errors = jsonable_encoder(exc.errors())
            return problem_response(422, summarize(errors), request.url.path, errors)
        return await request_validation_exception_handler(request, exc)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_v3(request.url.path):
            detail = exc.detail if exc.status_code != 404 else f"No v3 endpoint at {request.url.path}."
            return problem_response(exc.status_code, detail, request.url.path, headers=exc.headers)
        return await http_exception_handler(request, exc)

    for module in (api_sessions, api_resources, api_v3_sessions, api_v3_resources, control_api, web):
        api.include_router(module.build_router(state))
    return EmulatorApp(api, state)


__all__ = ["EmulatorApp", "create_app"]
