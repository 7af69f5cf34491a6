"""The developer docs: Swagger UI at /docs, served entirely by the gateway; /openapi.json as before.

FastAPI's default pages load Swagger UI and ReDoc from a CDN. A city's server often has no internet
access, and our Content-Security-Policy allows no foreign script anyway, so those pages stayed blank.
Swagger UI's JavaScript and CSS come from the `fastapi-offline` package instead (it ships exactly
those files), served below `/docs-assets`. The page is FastAPI's own; its one inline start script is
allowed by its hash in a docs-only policy (bot/gateway/security.py), never by 'unsafe-inline', and it needs no
inline styles, no worker and nothing from another origin.

ReDoc (/redoc) is not offered: ReDoc 2.x always loads its attribution logo from cdn.redoc.ly (a
third-party request, blocked by the CSP), creates its search worker from a blob: URL and inserts
<style> elements while its bundle loads, before a nonce could apply. Allowing all that would loosen
the policy for a second view of the same API, so /redoc redirects to /docs.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"


def mount_docs(app: FastAPI) -> tuple[str]:
    """Add /docs (and its files) to an app created with `docs_url=None, redoc_url=None`.

    Returns the page paths that get the docs-only Content-Security-Policy.
    """
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")  # behind a reverse proxy with a path prefix
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} – API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc(request: Request) -> RedirectResponse:
        """Old links to ReDoc land on Swagger UI (see the module docstring for why there is no ReDoc)."""
        return RedirectResponse(f"{request.scope.get('root_path', '')}{DOCS_URL}", status_code=308)

    return (DOCS_URL,)
