"""Pages and actions through the HTTP client against a real SQLite store."""

from __future__ import annotations

import csv
import io
import re

import yaml
from sqlalchemy import text
from sqlmodel import Session, select

from guard.audit.evidence import generate_keypair, load_public_key, seal
from guard.audit.models import AuditEventRow
from tests.audit_ui.conftest import csrf_of, event, seed


def _review(client, event_id: str, disposition: str, note: str = "", assignee: str = ""):  # noqa: ANN001, ANN202
    data = {
        "csrf_token": csrf_of(client, f"/events/{event_id}"),
        "disposition": disposition,
        "note": note,
        "assignee": assignee,
    }
    return client.post(f"/events/{event_id}/review", data=data, follow_redirects=False)


def test_dashboard_shows_the_figures_of_the_period(as_role) -> None:
    html = as_role("auditor").get("/").text
    tiles = {label.strip(): n for n, label in re.findall(r'<span class="n">(\d+)</span> ([a-z ]+)', html)}
    assert (
        tiles["requests"] == "5" and tiles["block"] == "1" and tiles["redact"] == "2" and tiles["route private"] == "1"
    )
    assert tiles["open in review queue"] == "4"
    assert html.count("<svg") == 5
    assert "email: 3</title>" in html and "secret: 1</title>" in html  # findings by category
    assert "api.openai.com: 3</title>" in html and "gpt-4o-mini: 3</title>" in html  # top destinations, models
    assert "private: 1</title>" in html and "public: 4</title>" in html  # private vs public share
    users = re.findall(r'user=([a-z]+)">\1</a></td><td class="num">(\d+)</td><td class="num">(\d+)</td>', html)
    assert users[:3] == [("alice", "0", "1"), ("carol", "1", "0"), ("dave", "0", "1")]


def test_event_list_filters_and_links_to_each_event(as_role) -> None:
    c = as_role("auditor")
    html = c.get("/events", params={"user": "alice", "action": "redact"}).text
    assert re.findall(r'href="/events/(e\d+)"', html) == ["e02"]
    assert 'value="alice"' in html and '<option value="redact" selected>' in html


def test_event_list_pages_with_a_next_link(as_role, store, app) -> None:
    app.state.settings.page_size = 2
    c = as_role("auditor")
    first = c.get("/events").text
    nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = c.get(nxt).text
    assert re.findall(r'href="/events/(e\d+)"', first) == ["e05", "e04"]
    assert re.findall(r'href="/events/(e\d+)"', second) == ["e03", "e02"]


def test_csv_export_holds_exactly_the_filtered_view(as_role) -> None:
    r = as_role("auditor").get("/events.csv", params={"group": "finance", "sort": "oldest"})
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["event_id"] for x in rows] == ["e02", "e04", "e05"]
    assert rows[2]["categories"] == "email,phone" and rows[2]["groups"] == "finance, eng"
    link = as_role("auditor").get("/events", params={"group": "finance", "sort": "oldest"}).text
    assert 'href="/events.csv?group=finance&amp;sort=oldest"' in link


def test_event_page_shows_decision_findings_conversation_and_chain(as_role) -> None:
    html = as_role("auditor").get("/events/e05").text
    assert "personal data redacted" in html and "redact-personal-data" in html
    assert "phone-e164" in html and "+4…89 (13)" in html and "Findings (2)" in html
    assert "Intact: content matches its hash" in html
    assert "No other events in this conversation." in html
    conv = as_role("auditor").get("/events/e02").text
    assert 'href="/events/e01"' in conv and 'href="/events/e04"' in conv  # the conversation's other events
    assert as_role("auditor").get("/events/nope").status_code == 404


def test_when_a_row_is_edited_in_the_database_then_its_page_says_the_chain_is_broken(as_role, store) -> None:
    with Session(store.engine) as db:
        db.execute(text("UPDATE audit_event SET reason = 'nothing to see' WHERE event_id = 'e03'"))
        db.commit()
    c = as_role("auditor")
    assert "Content does not match its hash" in c.get("/events/e03").text
    assert "Intact" in c.get("/events/e02").text


def test_reviewer_records_disposition_note_and_assignee(as_role, store) -> None:
    rev = as_role("reviewer")
    r = _review(rev, "e03", "needs_follow_up", "ask the team lead", "erin")
    assert r.status_code == 303 and r.headers["location"] == "/events/e03?saved=1#review"
    r = _review(rev, "e03", "false_positive", "test token from the docs")
    html = rev.get("/events/e03?saved=1").text
    assert "Review saved." in html
    history = html[html.index("<h3>History</h3>") :]
    assert history.index("false positive") < history.index("needs follow up")
    assert "ask the team lead" in history and "assigned to erin" in history and "by reviewer" in history
    with Session(store.engine) as db:
        assert (
            db.exec(select(AuditEventRow.review_status).where(AuditEventRow.event_id == "e03")).one()
            == "false_positive"
        )
    assert _review(rev, "e03", "maybe").status_code == 400
    queue = rev.get("/events", params={"review": "open"}).text
    assert 'href="/events/e03"' not in queue and 'href="/events/e05"' in queue


def test_rule_tuning_shows_fired_counts_and_false_positive_share(as_role) -> None:
    rev = as_role("reviewer")
    _review(rev, "e02", "false_positive")
    _review(rev, "e05", "true_positive")
    html = rev.get("/rules").text
    row = re.search(
        r"<code>email-address</code></td><td>email</td>\s*<td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>",
        html,
    )
    assert row.groups() == ("3", "2", "1")
    assert "50%" in html and 'href="/events?rule=email-address&amp;review=false_positive"' in html


def test_admin_allow_lists_a_false_positive_with_the_reviewers_note(as_role, settings) -> None:
    rev, admin = as_role("reviewer"), as_role("admin")
    page = admin.get("/events/e03").text
    assert "Allow this value" not in page  # not reviewed as a false positive yet
    _review(rev, "e03", "false_positive", "docs example token")
    page = admin.get("/events/e03").text
    assert "Allow this value" in page and "Allow this value" not in rev.get("/events/e03").text
    fid = re.search(r'name="finding_id" value="(\d+)"', page).group(1)
    token = csrf_of(admin, "/events/e03")
    r = admin.post(
        "/events/e03/allowlist", data={"csrf_token": token, "finding_id": fid, "note": ""}, follow_redirects=False
    )
    assert r.status_code == 303
    admin.post("/events/e03/allowlist", data={"csrf_token": token, "finding_id": fid})  # twice: one entry
    data = yaml.safe_load((settings.rules_dir / "allowlist.yaml").read_text())
    assert data["allowlists"] == [
        {
            "id": f"ui-{'cd' * 6}-1", "category": "secret", "rule_id": "github-token", "fingerprints": ["cd" * 32],
            "preview": "gh…mP (40)", "note": "docs example token", "added_by": "admin",
            "added_at": data["allowlists"][0]["added_at"], "event_id": "e03",
        }
    ]  # fmt: skip
    assert "docs example token" in admin.get("/rules").text
    assert admin.post("/events/e02/allowlist", data={"csrf_token": token, "finding_id": fid}).status_code == 409


def test_admin_reads_evidence_and_each_reading_is_audited(as_role, store, tmp_path) -> None:
    priv, pub = generate_keypair(tmp_path / "keys")
    seed(store, [event(event_id="ev1", evidence=seal(load_public_key(pub), "ev1", "Hi Bob Smith", "Hi [PERSON_1]"))])
    admin = as_role("admin")
    assert "Read the evidence" in admin.get("/events/ev1").text
    assert "Read the evidence" not in as_role("reviewer").get("/events/ev1").text
    token = csrf_of(admin, "/events/ev1/evidence")
    bad = admin.post(
        "/events/ev1/evidence",
        data={"csrf_token": token, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
    )
    assert bad.status_code == 400 and "could not be opened" in bad.text
    other_priv, _ = generate_keypair(tmp_path / "other")
    wrong = admin.post("/events/ev1/evidence", data={"csrf_token": token, "private_key": other_priv.read_text()})
    assert wrong.status_code == 400
    ok = admin.post("/events/ev1/evidence", data={"csrf_token": token, "private_key": priv.read_text()})
    assert ok.status_code == 200 and "Hi Bob Smith" in ok.text and '<mark class="ph">[PERSON_1]</mark>' in ok.text
    reads = admin.get("/events", params={"q": "evidence of event ev1"}).text
    assert len(re.findall(r'href="/events/([0-9a-f]{32})"', reads)) == 2  # the wrong key and the right one
    assert as_role("admin").get("/events", params={"user": "admin"}).text.count("evidence read") == 2


def test_dashboard_caps_a_long_review_queue_count(as_role, monkeypatch) -> None:
    from audit_ui import stats

    monkeypatch.setattr(stats, "QUEUE_CAP", 3)  # four open events in the seed data
    html = as_role("auditor").get("/").text
    assert '<span class="n">3+</span> open in review queue' in html
