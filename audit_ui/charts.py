"""Server-side SVG charts: no JavaScript, no inline style (colours come from classes in ui.css)."""

from __future__ import annotations

from markupsafe import Markup, escape

from audit_ui.templating import neutralise

ACTION_ORDER = ("allow", "redact", "route_private", "block")


def _t(text: object) -> str:
    return str(escape(neutralise(str(text))))


def stacked_days(days: list[str], by_day: dict[str, dict[str, int]], title: str) -> Markup:
    """Vertical bars, one per day, stacked by action."""
    w, h, pad_l, pad_b, pad_t = 1000, 240, 40, 34, 10
    peak = max((sum(by_day.get(d, {}).values()) for d in days), default=0) or 1
    slot = (w - pad_l - 10) / max(len(days), 1)
    bar = max(slot * 0.7, 2)
    out = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="c-days-t">',
        f'<title id="c-days-t">{_t(title)}</title>',
        f'<line class="axis" x1="{pad_l}" y1="{h - pad_b}" x2="{w - 5}" y2="{h - pad_b}"/>',
        f'<text class="tick" x="{pad_l - 6}" y="{pad_t + 8}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{pad_l - 6}" y="{h - pad_b}" text-anchor="end">0</text>',
    ]
    scale = (h - pad_b - pad_t) / peak
    every = max(1, len(days) // 8)
    for i, d in enumerate(days):
        x = pad_l + i * slot + (slot - bar) / 2
        y = h - pad_b
        for action in ACTION_ORDER + tuple(a for a in by_day.get(d, {}) if a not in ACTION_ORDER):
            n = by_day.get(d, {}).get(action, 0)
            if not n:
                continue
            bh = n * scale
            y -= bh
            out.append(
                f'<rect class="a-{_t(action)}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{bh:.1f}">'
                f"<title>{_t(d)} {_t(action)}: {n}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text class="tick" x="{x + bar / 2:.1f}" y="{h - pad_b + 16}" text-anchor="middle">{_t(d[5:])}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - built from escape()d pieces only


def hbars(items: list[tuple[str, int]], title: str, cls: str = "bar") -> Markup:
    """Horizontal bars with labels, largest first."""
    if not items:
        return Markup('<p class="empty">No data in this period.</p>')
    # Sized for a third of a laptop screen, so 12px text stays 12px.
    row, w, label_w = 24, 400, 150
    h = row * len(items) + 6
    peak = max(n for _, n in items) or 1
    out = [f'<svg class="chart" viewBox="0 0 {w} {h}" role="img"><title>{_t(title)}</title>']
    for i, (label, n) in enumerate(items):
        y = i * row + 3
        bw = max((w - label_w - 50) * n / peak, 1)
        short = label if len(label) <= 22 else label[:21] + "…"
        out.append(f'<text class="label" x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_t(short)}</text>')
        out.append(
            f'<rect class="{_t(cls)}" x="{label_w}" y="{y}" width="{bw:.1f}" height="{row - 8}"><title>{_t(label)}: {n}</title></rect>'
        )
        out.append(f'<text class="value" x="{label_w + bw + 6:.1f}" y="{y + 15}">{n}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - built from escape()d pieces only


def share(parts: list[tuple[str, int]], title: str) -> Markup:
    """One horizontal bar split into shares (e.g. private vs public traffic)."""
    total = sum(n for _, n in parts)
    if not total:
        return Markup('<p class="empty">No data in this period.</p>')
    w, h = 400, 30
    x = 0.0
    out = [f'<svg class="chart share" viewBox="0 0 {w} {h}" role="img"><title>{_t(title)}</title>']
    for name, n in parts:
        if not n:
            continue
        bw = w * n / total
        out.append(
            f'<rect class="r-{_t(name)}" x="{x:.1f}" y="0" width="{bw:.1f}" height="{h}"><title>{_t(name)}: {n}</title></rect>'
        )
        if bw > 90:
            out.append(f'<text class="inbar" x="{x + 6:.1f}" y="{h / 2 + 5}">{_t(name)} {100 * n / total:.0f}%</text>')
        x += bw
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - built from escape()d pieces only
