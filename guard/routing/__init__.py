"""Routing: re-target a request to a private model, translating wire formats when they differ.

Nothing here imports mitmproxy: a RoutePlan says what the request must become and how the reply
must be translated back; the addon applies it to the flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RoutePlan:
    """What a routed request becomes, and how to turn the private model's reply back."""

    target: str  # private destination name
    url: str  # full URL of the private model endpoint
    headers: dict[str, str] = field(default_factory=dict)  # set / replace (auth, content-type)
    body: bytes = b""
    # Translate a complete (non-streaming) JSON reply body into the client's format; None: as is.
    translate_response: Callable[[bytes], bytes] | None = None
    # Build a per-flow stream transformer (bytes chunk -> bytes) for SSE replies; None: as is.
    stream_translator: Callable[[], Callable[[bytes], bytes]] | None = None
    timeout_s: float = 30.0
