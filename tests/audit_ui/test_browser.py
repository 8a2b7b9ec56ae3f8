"""Headless Chromium against a real `guard ui` process: sign in, filter, open, review, export, screenshots."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from guard.audit.store import open_store
from tests.audit_ui.conftest import event, finding, make_users, seed, standard_events

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.e2e]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`guard ui` on a free loopback port over a seeded SQLite store; stopped after the tests."""
    home = tmp_path_factory.mktemp("ui-home")
    url = f"sqlite:///{home / 'audit.db'}"
    store = open_store(url)
    make_users(store)
    now = datetime.now(UTC)
    extra = [
        event(time=now - timedelta(days=d, hours=h), event_id=f"bg{d}{h}", action=a, identity=u, model=m,
              findings=(finding(c, r),) if a != "allow" else (), route="private" if a == "route_private" else "public")
        for d in range(7) for h, (a, u, m, c, r) in enumerate([
            ("redact", "alice", "gpt-4o", "email", "email-address"),
            ("block", "carol", "claude-3-5-sonnet", "secret", "aws-access-key"),
            ("allow", "bob", "gpt-4o-mini", "", ""),
            ("route_private", "dave", "llama3", "person", "person-name"),
            ("redact", "erin", "gemini-1.5-pro", "phone", "phone-e164"),
        ][: 2 + (d % 4)])
    ]  # fmt: skip
    seed(store, standard_events(now) + extra)
    store.close()
    port = _free_port()
    env = {**os.environ, "GUARD_HOME": str(home), "GUARD_RULES": str(home / "rules")}
    guard = Path(sys.executable).with_name("guard")
    proc = subprocess.Popen(
        [str(guard), "ui", "--port", str(port), "--db", url], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "guard ui exited")
            time.sleep(0.2)
        else:
            raise RuntimeError("guard ui did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_reviewer_signs_in_filters_opens_reviews_and_exports(server: str, browser, tmp_path: Path) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(f"{server}/events")
    assert page.url.startswith(f"{server}/login")
    page.get_by_label("Name").fill("reviewer")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/events")
    # Keyboard: the first Tab lands on the skip link, which takes focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.get_by_label("User").fill("carol")
    page.get_by_label("Action").select_option("block")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/events?*user=carol*")
    rows = page.locator("table.events tbody tr")
    assert rows.count() >= 2 and all("block" in t for t in rows.all_inner_texts())
    page.screenshot(path=str(ARTIFACTS / "ui-events.png"), full_page=True)

    with page.expect_download() as dl:
        page.get_by_role("link", name="Export CSV").click()
    data = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert (
        len(data) == rows.count()
        and {r["identity"] for r in data} == {"carol"}
        and {r["action"] for r in data} == {"block"}
    )

    page.locator('a[href="/events/e03"]').click()
    page.wait_for_url(f"{server}/events/e03")
    assert "github-token" in page.content()
    page.get_by_label("false positive").check()
    page.get_by_label("Note").fill("example token from the docs")
    page.get_by_label("Assignee").fill("erin")
    page.get_by_role("button", name="Save review").click()
    page.wait_for_url("**/events/e03?saved=1*")
    assert page.get_by_role("status").inner_text() == "Review saved."
    assert "example token from the docs" in page.locator("ol.history").inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-event.png"), full_page=True)

    page.goto(f"{server}/")
    assert page.locator("svg.chart").count() == 5
    page.screenshot(path=str(ARTIFACTS / "ui-dashboard.png"), full_page=True)
    page.goto(f"{server}/events?review=false_positive")
    assert page.locator('a[href="/events/e03"]').count() == 1
    assert not csp_errors, csp_errors
    ctx.close()


def test_pages_read_without_javascript(server: str, browser) -> None:  # noqa: ANN001
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(f"{server}/login")
    page.get_by_label("Name").fill("auditor")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/")
    for path, text in (
        ("/", "Prompts with findings, by category"),
        ("/events", "Export CSV"),
        ("/events/e05", "Findings (2)"),
        ("/rules", "email-address"),
    ):
        page.goto(f"{server}{path}")
        assert text in page.content(), path
    # An auditor sees no review form.
    page.goto(f"{server}/events/e05")
    assert page.get_by_role("button", name="Save review").count() == 0
    ctx.close()
