"""Values spread over several user messages: scan across message boundaries, redact each part.

A user can send "my card is 5189 4386" and then "0668 9283": neither message holds a card number, the
conversation does. For each boundary between consecutive user text segments, the end of one and the
start of the next are joined and scanned; a finding that crosses the join is split back into one
finding per segment, so each part is redacted where it was typed.

Two joins per boundary (measured on the bundled rules: a newline join matches nothing, since no
pattern crosses a line break): a zero-width space, which the engine's folding removes, catches a
value cut anywhere ("ghp_zIhF" + "r3lO..."), and a plain space catches values whose parts were
typed as words ("5189 4386" + "0668 9283"). Only a window at each boundary is scanned, so the cost
does not grow with the conversation, and earlier boundaries hit the detection cache on each resend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from guard.core import Finding, Segment

WINDOW = 256  # characters taken from each side; longer than any value the detectors look for
JOINS = ("\u200b", " ")


@dataclass(frozen=True)
class Probe:
    """One boundary text: the tail of segment `left` + join + the head of segment `right`."""

    left: int
    right: int
    text: str
    cut: int  # where the join starts in text
    offset: int  # where the tail starts in the left segment
    join: int  # length of the join


def probes(segments: Sequence[Segment]) -> list[Probe]:
    """Boundary texts between consecutive user text segments."""
    idx = [i for i, s in enumerate(segments) if s.role == "user" and s.kind == "text" and s.text.strip()]
    out: list[Probe] = []
    for a, b in zip(idx, idx[1:], strict=False):
        left, right = segments[a].text, segments[b].text
        tail, head = left[-WINDOW:], right[:WINDOW]
        for join in JOINS:
            out.append(Probe(a, b, tail + join + head, len(tail), len(left) - len(tail), len(join)))
    return out


def merge(
    segments: Sequence[Segment],
    found: Sequence[Sequence[Finding]],
    boundary: Sequence[Probe],
    boundary_found: Sequence[Sequence[Finding]],
) -> list[list[Finding]]:
    """Per-segment findings plus the parts of every finding that crosses a boundary."""
    out = [list(fs) for fs in found]
    for probe, fs in zip(boundary, boundary_found, strict=True):
        join = probe.join
        for f in fs:
            if not (f.start < probe.cut and f.end > probe.cut + join):
                continue  # wholly on one side: the segment's own scan has it
            left_len = len(segments[probe.left].text)
            parts = (
                (probe.left, replace(f, start=probe.offset + f.start, end=left_len)),
                (probe.right, replace(f, start=0, end=f.end - probe.cut - join)),
            )
            for i, part in parts:
                if not any(g.start <= part.start and part.end <= g.end for g in out[i]):
                    out[i].append(part)
    return out
