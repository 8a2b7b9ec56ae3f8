"""Prompt-side text is attacker-controlled: every page must render it inert."""

from __future__ import annotations

from html.parser import HTMLParser

from guard.audit.evidence import generate_keypair, load_public_key, seal
from tests.audit_ui.conftest import csrf_of, event, finding, seed

SCRIPT = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(2)>'
QUOTE = "' onmouseover='alert(3)' x='"
RLO = "invoice\u202eexe.pdf"  # RIGHT-TO-LEFT OVERRIDE: shows as "invoicefdp.exe"
ISOLATE = "\u2067admin\u2069 \u200fok"
HOSTILE = (SCRIPT, ATTR, QUOTE, RLO, ISOLATE)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


class Tags(HTMLParser):
    """Collect every element and attribute the browser would build."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)


def assert_inert(html: str, where: str) -> None:
    p = Tags()
    p.feed(html)
    assert "script" not in p.tags and "img" not in p.tags and "iframe" not in p.tags, where
    assert not [a for a in p.attrs if a.startswith("on")], where
    assert "src" not in p.attrs, where
    assert not any(c in html for c in BIDI), f"raw direction control in {where}"


def hostile_event(evidence: bytes | None = None, event_id: str = "evil") -> object:
    return event(
        event_id=event_id,
        identity=SCRIPT,
        groups=(ATTR, "finance"),
        provider=QUOTE[:60],
        model=RLO,
        destination=ATTR,
        reason=f"{SCRIPT} {RLO} {ISOLATE}",
        policy_rules=(QUOTE,),
        classifications=(ISOLATE,),
        conversation_id=ATTR,
        error=SCRIPT,
        action="block",
        evidence=evidence,
        findings=(finding(category="secret", rule_id=ATTR, preview=RLO), finding(preview=SCRIPT[:60])),
    )


def test_when_event_text_is_hostile_then_every_page_is_inert(app, store, as_role, tmp_path) -> None:
    priv, pub = generate_keypair(tmp_path / "keys")
    prompt = f"Hi [PERSON_1], {SCRIPT} {ATTR} {RLO}"
    seed(store, [hostile_event(seal(load_public_key(pub), "evil", prompt + " Bob", prompt))])
    seed(store, [hostile_event(event_id="evil-2")])  # same conversation: shows in the other's page
    reviewer, admin = as_role("reviewer"), as_role("admin")
    note = {
        "csrf_token": csrf_of(reviewer, "/events/evil"),
        "disposition": "false_positive",
        "note": QUOTE + SCRIPT + RLO,
        "assignee": ATTR,
    }
    assert reviewer.post("/events/evil/review", data=note).status_code == 200
    pages = {
        "/": admin.get("/").text,
        "/events": admin.get("/events").text,
        "/events?filters": admin.get("/events", params={"user": ATTR, "q": QUOTE, "group": RLO, "model": SCRIPT}).text,
        "/events/evil": admin.get("/events/evil").text,
        "/events/evil-2": admin.get("/events/evil-2").text,
        "/rules": admin.get("/rules").text,
    }
    token = csrf_of(admin, "/events/evil/evidence")
    pages["evidence"] = admin.post(
        "/events/evil/evidence", data={"csrf_token": token, "private_key": priv.read_text()}
    ).text
    for where, html in pages.items():
        assert_inert(html, where)
    detail = pages["/events/evil"]
    # Rendered, escaped, and the direction controls made visible rather than dropped.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in detail
    assert "&#39; onmouseover=&#39;alert(3)&#39;" in detail
    assert "invoice\u2039U+202E\u203aexe.pdf" in detail
    assert "\u2039U+2067\u203aadmin\u2039U+2069\u203a" in detail
    assert "&#39; onmouseover=" in pages["/events?filters"]  # echoed filter values stay inside their attribute
    ev = pages["evidence"]
    assert '<mark class="ph">[PERSON_1]</mark>' in ev
    assert '<span class="bidi" title="direction control">U+202E</span>' in ev
    assert "&lt;script&gt;" in ev


def test_when_hostile_text_is_exported_then_csv_cells_cannot_run_formulas(app, store, as_role) -> None:
    seed(
        store,
        [
            event(
                event_id="formula",
                identity='=HYPERLINK("http://evil")',
                reason="+cmd|' /C calc'!A0",
                groups=("@SUM(1)",),
            )
        ],
    )
    text = as_role("auditor").get("/events.csv", params={"q": "formula"}).text
    row = next(line for line in text.splitlines() if "formula" in line)
    assert "'=HYPERLINK" in row and "'+cmd" in row and "'@SUM" in row
