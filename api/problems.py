"""One error shape for every error the API answers: RFC 9457 problem details.

Every 4xx and 5xx body is a :class:`Problem` (``application/problem+json``): ``detail`` is
one sentence a user can read, ``errors`` names each refused field of a request that did
not validate (``query.label``, ``body.rule.labels.0``). The handlers below turn what the
routes raise (``HTTPException``, a refused token, a store that is down, a request that
does not validate) into that shape, and :func:`document` declares it in the OpenAPI
document, with every status an operation can answer by its kind (who may call it, what
it takes), beside the ones a route declares itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import psycopg
import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from api.auth import AuthError, Forbidden
from api.inputs import PATTERN_MEANINGS
from events.errors import StoreUnavailable

MEDIA_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    field: str
    """Where the refused value was: ``query.day``, ``body.url``, ``path.camera_id``."""
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = Field(default_factory=list)


def problem(
    status: int,
    detail: str,
    errors: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail,
                   errors=list(errors))  # fmt: skip
    return JSONResponse(
        body.model_dump(), status, headers=dict(headers or {}), media_type=MEDIA_TYPE
    )


def field_problems(errors: Sequence[Any]) -> list[FieldProblem]:
    """pydantic's errors as fields and sentences (a control character is named as such,
    not as the pattern that refused it)."""
    found = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "string_pattern_mismatch":
            pattern = str((error.get("ctx") or {}).get("pattern"))
            message = PATTERN_MEANINGS.get(pattern, message)
        found.append(FieldProblem(field=where or "request", message=message))
    return found


def add_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # the router names only the first route it matched
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_problems(exc.errors())
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem(422, detail or "the request is not valid", errors)

    @app.exception_handler(AuthError)
    async def unauthorized(_request: Request, exc: AuthError) -> JSONResponse:
        return problem(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Forbidden)
    async def forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return problem(403, str(exc))

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(redis.ConnectionError)
    @app.exception_handler(redis.TimeoutError)
    async def store_down(_request: Request, exc: Exception) -> JSONResponse:
        """A store that is down (restarting) fails only the requests that need it."""
        what = "Redis" if isinstance(exc, redis.RedisError) else "PostgreSQL"
        if isinstance(exc, StoreUnavailable):
            what = str(exc).split(" is ")[0]
        return problem(503, f"{what} is unavailable right now; try again in a moment",
                       headers={"Retry-After": "2"})  # fmt: skip


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route answers at ``path``."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(path) and route.methods:
            methods |= route.methods
    return sorted(methods)


_BY_KIND = {
    "public": (),
    "signed-in": (401,),
    "media": (401,),
    "admin": (401, 403),
}
_WHY = {
    400: "the body is not JSON",
    401: "no valid token: log in (again)",
    403: "this user may not do this",
    404: "no such resource (or one this user may not see)",
    409: "the change conflicts with what exists",
    413: "the answer would be too large",
    416: "the range is not satisfiable",
    422: "a value was refused: the problem names each field",
    429: "too many requests at once: try again later",
    503: "a store (Redis, PostgreSQL) is unavailable right now: try again in a moment",
}


def _answers(operation: dict[str, Any]) -> set[int]:
    """The statuses an operation answers by its kind, besides those it declares."""
    codes = set(_BY_KIND.get(operation.get("x-access", "signed-in"), (401,)))
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        codes.add(422)
    if "requestBody" in operation:
        codes.add(400)
    if any(p.get("in") == "path" or p.get("name") == "camera_id" for p in parameters):
        codes.add(404)  # what the path names, or a camera filter the user may not see
    codes.add(503)
    return codes


def _declare(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for code in _answers(operation):
        responses.setdefault(str(code), {"description": _WHY.get(code, HTTPStatus(code).phrase)})
    shape = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for code, response in responses.items():
        refers = str(response.get("content", {})).find("HTTPValidationError") >= 0
        if code[0] in "45" and (refers or "content" not in response):
            response["content"] = shape
            if code == "422":
                response["description"] = _WHY[422]
    if operation.get("x-access") == "public" and operation.get("security"):
        operation["security"] = [{}, *operation["security"]]  # a token is optional here


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the problem shape and every status declared."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, routes=app.routes,
                           description=app.description)  # fmt: skip
        for path in spec.get("paths", {}).values():
            for operation in path.values():
                _declare(operation)
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        _, shapes = models_json_schema([(Problem, "serialization")],
                                       ref_template="#/components/schemas/{model}")  # fmt: skip
        schemas.update(shapes["$defs"])
        app.openapi_schema = spec
    return app.openapi_schema
