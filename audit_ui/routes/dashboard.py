"""The dashboard: what is leaving, who sends it, and what waits for review."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from audit_ui import charts, stats
from audit_ui.deps import Auditor, SessionDep
from audit_ui.templating import templates

router = APIRouter()
PERIODS = (1, 7, 30, 90)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, db: SessionDep, user: Auditor, days: int = Query(7)) -> Response:
    """Show the dashboard for the last `days` days."""
    days = days if days in PERIODS else 7
    d = stats.dashboard(db, days)
    ctx = {
        "user": user,
        "d": d,
        "days": days,
        "periods": PERIODS,
        "chart_days": charts.stacked_days(d.days, d.by_day, f"Events per day by action, last {days} days"),
        "chart_categories": charts.hbars(d.categories, "Prompts with findings, by category", "bar cat"),
        "chart_destinations": charts.hbars(d.destinations, "Top destinations"),
        "chart_models": charts.hbars(d.models, "Top models"),
        "chart_routes": charts.share(
            [(k, d.routes.get(k, 0)) for k in ("private", "public", "other")], "Private vs public traffic"
        ),
    }
    return templates.TemplateResponse(request, "dashboard.html", ctx)
