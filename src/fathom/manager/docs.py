"""The API's interactive documentation at /api/v1/docs: Swagger UI over /api/v1/openapi.json.

Swagger UI is not bundled: the page loads it from the jsDelivr CDN, so it works where the browser
reaches the internet. FastAPI's own page starts Swagger UI from an inline script, which the
manager's Content-Security-Policy forbids; here the start-up script is a file of our own, and this
page alone allows scripts and styles from the CDN. The page shows the OpenAPI document only, never
anything from packets.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' {_CDN}/; style-src 'self' {_CDN}/; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

_PAGE = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Fathom manager API</title>
<link rel="stylesheet" href="{_CDN}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{_CDN}/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/start.js"></script>
</body>
</html>
"""
_START = 'SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#swagger-ui"});\n'


def docs_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/api/v1/docs")
    def docs() -> HTMLResponse:
        return HTMLResponse(_PAGE, headers={"Content-Security-Policy": DOCS_CSP})

    @router.get("/api/v1/docs/start.js")
    def start() -> Response:
        return Response(_START, media_type="text/javascript")

    return router
