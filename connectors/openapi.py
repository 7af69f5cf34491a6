"""Document in the OpenAPI schema the error responses that come from shared layers, not from one route.

Partners and city IT teams generate clients from `/openapi.json`, and schemathesis checks the gateway
against it (tests/security/test_api_schema.py), so the schema must list every status code a client
can really get. Three come from shared code and were missing from every route:
- 400: FastAPI answers a body that is not UTF-8 ("There was an error parsing the body") with 400,
  while malformed JSON in valid UTF-8 gets 422;
- 503: the app-wide handler for a Redis outage (`bot.gateway.app.redis_unavailable`, with Retry-After).
Routes that document these themselves keep their own description. `RATE_LIMITED` is for the routes
that use a rate-limit dependency of `connectors.ratelimit` to list in their `responses` (429);
`TURN_IN_PROGRESS` for the routes that take a `client_message_id` (409, `bot.gateway.app.turn_in_progress`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "string"}},
    "required": ["detail"],
    "title": "Error",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    if headers:
        response["headers"] = headers
    return response


BODY_NOT_READABLE = _error("The request body is not readable (not UTF-8).")
RATE_LIMITED = _error("Too many requests; the text says so in German.", RETRY_AFTER)
REDIS_UNAVAILABLE = _error("The conversation store is briefly unavailable; retry.", RETRY_AFTER)
TURN_IN_PROGRESS = _error(
    "A message with this client_message_id is still being answered (sent twice at once); send it again with the "
    "same id after Retry-After to get that answer.",
    RETRY_AFTER,
)


def document_shared_errors(app: FastAPI) -> None:
    """Replace `app.openapi` with a version that adds the shared error responses (built once, cached)."""

    build = app.openapi  # FastAPI's own generator; it caches its result in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if method not in _METHODS or not isinstance(operation, dict):
                    continue
                responses = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    responses.setdefault("400", BODY_NOT_READABLE)
                if path != "/health":  # liveness must not depend on Redis
                    responses.setdefault("503", REDIS_UNAVAILABLE)
        return schema

    replace: Callable[[], dict[str, Any]] = openapi
    app.openapi = replace  # type: ignore[method-assign]


CITIZEN_TEXT = "x-citizen-text"  # marks a schema property that holds what a citizen wrote


def document_text_limit(app: FastAPI, max_chars: int) -> None:
    """Give every citizen-text property (marked `x-citizen-text`) the installation's `maxLength`.

    The limit is a setting (`BUERGERBOT_MAX_QUESTION_CHARS`), so models cannot carry it as a constant;
    the schema must still state it, or clients (and schemathesis) would send texts the check refuses.
    """
    build = app.openapi

    def mark(node: Any) -> None:
        if isinstance(node, dict):
            if node.pop(CITIZEN_TEXT, False):
                node["maxLength"] = max_chars
            for value in node.values():
                mark(value)
        elif isinstance(node, list):
            for value in node:
                mark(value)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        mark(schema)
        return schema

    replace: Callable[[], dict[str, Any]] = openapi
    app.openapi = replace  # type: ignore[method-assign]
