"""Span look-ups in sorted interval lists, so long prompts stay linear-ish (bisect, not scans)."""

from __future__ import annotations

import bisect


def inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Is [start, end) inside one of the sorted, mostly disjoint spans?"""
    i = bisect.bisect_right(spans, (start, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= start and end <= spans[i][1]
