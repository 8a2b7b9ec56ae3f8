"""Routing: re-target a request to a private model, translating wire formats when they differ.

Nothing here imports mitmproxy: a RoutePlan says what the request must become and how the reply
must be translated back; the addon applies it to the flow, or hands it to guard.routing.client.send
(httpx: own CA, timeouts, PrivateModelUnavailable when the model is down or slow).
`plan_route(decision, parsed_request, destinations)` builds one (guard.routing.plan).
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
    # The headers above are the complete set to send: every client header is dropped, because the
    # client's carry its public provider's credentials (Authorization, x-api-key, x-goog-api-key).
    method: str = "POST"
    stream: bool = False  # the client asked for a streamed reply (SSE)
    connect_timeout_s: float = 5.0
    ca_file: str = ""  # verify the private model's TLS with this CA bundle ('' = system store)
    private_model: str = ""  # model name sent to the private model
    client_adapter: str = ""  # the wire format the client speaks (for errors in its own format)
    client_endpoint: str = ""
    on_unavailable: str = "block"  # private model down or slow: block | redact (and send public)
    unavailable_message: str = ""  # user-facing text when it is down and the policy blocks
    stream_content_type: str = "text/event-stream"  # of the translated stream (Gemini without alt=sse: JSON)


from guard.routing.plan import RouteError, plan_route  # noqa: E402  (plan.py needs RoutePlan defined)

__all__ = ["RouteError", "RoutePlan", "plan_route"]
