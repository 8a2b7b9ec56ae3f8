"""Keyboard and screen-reader basics on every page: a skip link, a label for every control, one h1."""

from __future__ import annotations

from html.parser import HTMLParser


class Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labels: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.h1 = 0
        self.skip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)
        if tag == "h1":
            self.h1 += 1
        if tag == "a" and a.get("class") == "skip" and a.get("href") == "#main":
            self.skip = True


def test_every_page_has_a_skip_link_labelled_controls_and_one_heading(as_role, client) -> None:
    admin = as_role("admin")
    pages = {
        p: admin.get(p).text
        for p in ("/", "/events", "/events/e03", "/rules", "/users", "/account/password", "/events/e03/evidence")
    }
    pages["/login"] = client.get("/login").text
    for path, html in pages.items():
        p = Controls()
        p.feed(html)
        assert p.skip and 'id="main"' in html, path
        assert p.h1 == 1, path
        unlabelled = [c for c in p.controls if c.get("id") not in p.labels and not c.get("aria-label")]
        assert not unlabelled, f"{path}: {unlabelled}"
