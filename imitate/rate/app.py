"""The rating app: a start page (a name, no accounts), the blind A/B page, and the post that saves it.

The rating form carries only an opaque presentation token and the choice (A / B / equal); the
server maps the token back to the item and the side the teacher's output was shown on. Pages are
rendered server-side with autoescaping: instructions and outputs are untrusted text.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote, unquote

from fastapi import Cookie, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from imitate.rate.store import MAX_NAME, BadRaterName, RatingError, RatingStore, clean_rater_name

RATER_COOKIE = "rater"
_TEMPLATES = Environment(
    loader=PackageLoader("imitate.rate", "templates"), autoescape=select_autoescape(["html"])
)
_HEADERS = {
    # No scripts at all; styles inline; forms post only here; never framed; nothing cached.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(store: RatingStore) -> FastAPI:
    """The FastAPI app over one rating store (routes below; no API docs pages)."""
    app = FastAPI(title="imitate.rate", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(_HEADERS)
        return response

    @app.get("/", response_class=HTMLResponse)
    def start_page(rater: Annotated[str | None, Cookie()] = None) -> HTMLResponse:
        return _page("start.html", current=_rater_or_none(rater), name="", error=None)

    @app.post("/start")
    def start(name: Annotated[str, Form(max_length=4 * MAX_NAME)] = "") -> Response:
        try:
            clean = clean_rater_name(name)
        except BadRaterName as error:
            return _page("start.html", 422, current=None, name=name, error=str(error))
        response = RedirectResponse("/rate", status_code=303)
        response.set_cookie(RATER_COOKIE, quote(clean), httponly=True, samesite="lax")
        return response

    @app.get("/rate", response_class=HTMLResponse)
    def rate_page(rater: Annotated[str | None, Cookie()] = None) -> Response:
        name = _rater_or_none(rater)
        if name is None:
            return RedirectResponse("/", status_code=303)
        screen = store.screen(name)
        if screen is None:
            return _page("done.html", rater=name, rated=store.rated(name))
        return _page("rate.html", rater=name, screen=screen)

    @app.post("/rate")
    def rate(
        token: Annotated[str, Form(min_length=1, max_length=64)],
        choice: Annotated[Literal["A", "B", "equal"], Form()],
        rater: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        name = _rater_or_none(rater)
        if name is None:
            return _page("error.html", 403, message="start from the first page: no rater name")
        try:
            store.save(name, token, choice)
        except RatingError as error:
            return _page("error.html", error.status, message=str(error))
        return RedirectResponse("/rate", status_code=303)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    return app


def _page(template: str, status: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(_TEMPLATES.get_template(template).render(**context), status_code=status)


def _rater_or_none(cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        return clean_rater_name(unquote(cookie))
    except BadRaterName:
        return None
