"""The review UI application: `create_app(settings)` builds it; `guard ui` serves it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from audit_ui.core.config import Settings
from audit_ui.core.security import LoginLimiter
from audit_ui.deps import MustChangePassword, NotAuthenticated, csrf_protect
from audit_ui.pgindex import ensure_in_background
from audit_ui.routes import auth, dashboard, events, evidence, rules, users
from audit_ui.templating import templates
from guard.audit.store import open_store

# No inline script or style anywhere, no third-party origin: the UI shows attacker-written text.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app for `settings` (default: from GUARD_* environment variables)."""
    settings = settings or Settings()
    app = FastAPI(
        title="guard review",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.settings = settings
    app.state.store = open_store(settings.db_url)
    app.state.engine = app.state.store.engine
    if settings.search_indexes:
        ensure_in_background(app.state.engine)  # PostgreSQL only; a no-op on SQLite
    app.state.limiter = LoginLimiter(settings.login_attempts, settings.login_window)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if request.url.path != "/static" and not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")  # pages hold audit data
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="guard_session",
        max_age=settings.session_max_age,
        same_site=settings.cookie_samesite,
        https_only=settings.cookie_secure,
    )
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for module in (auth, dashboard, events, evidence, rules, users):
        app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Report that the UI is up (no data, no login needed)."""
        return {"status": "ok"}

    @app.exception_handler(NotAuthenticated)
    async def to_login(request: Request, exc: NotAuthenticated) -> Response:
        if request.method == "GET":
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return _error(request, 401, "Sign in first.")

    @app.exception_handler(MustChangePassword)
    async def to_password(request: Request, exc: MustChangePassword) -> Response:
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> Response:
        # Never echo the submitted values back: they may be prompt text or passwords.
        fields = ", ".join(sorted({str(e.get("loc", ("", "?"))[-1]) for e in exc.errors()}))
        return _error(request, 400, f"Invalid input: {fields}.")

    return app


def _error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message, "user": None}, status_code=status, headers=headers
    )
