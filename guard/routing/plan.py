"""Build the RoutePlan that sends a request, unredacted, to a private OpenAI-compatible model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from guard.core import Action, Decision
from guard.policy.destinations import Destinations, PrivateDestination
from guard.routing import RoutePlan, anthropic, gemini


class RouteError(ValueError):
    """This request cannot be routed to the private model; the message is user-safe (no prompt text)."""


# OpenAI endpoints a private OpenAI-compatible server serves under its base URL, as they are.
_OPENAI_PATHS = {
    "chat.completions": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
    "responses": "/responses",
}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _passthrough(body: Any, model: str) -> bytes:
    if not isinstance(body, dict):
        raise RouteError("the request body is not a JSON object")
    return _dumps({**body, "model": model})


def plan_route(
    decision: Decision,
    parsed: Any,
    destinations: Destinations,
    *,
    client_path: str = "",
    on_unavailable: str = "block",
) -> RoutePlan:
    """Plan sending `parsed` (a guard.providers.ParsedRequest) to the decision's private model, translating formats."""
    if decision.action != Action.ROUTE_PRIVATE:
        raise RouteError(f"decision is {decision.action.value}, not route_private")
    dest = destinations.private_named(decision.target)
    if dest is None:
        raise RouteError("no private model is configured")
    model = dest.map_model(parsed.model or "")
    if not model:
        raise RouteError(f"private model {dest.name}: no model name (set default_model or models:)")
    adapter, endpoint, stream = parsed.adapter, parsed.endpoint, bool(parsed.stream)
    ctype = "text/event-stream"
    translate: Callable[[bytes], bytes] | None = None
    streamer: Callable[[], Callable[[bytes], bytes]] | None = None
    client_model = parsed.model or model
    if adapter in ("openai", "azure_openai") and endpoint in _OPENAI_PATHS:
        path, body = _OPENAI_PATHS[endpoint], _passthrough(parsed.body, model)
    elif adapter == "anthropic" and endpoint == "messages":
        path = "/chat/completions"
        body = _dumps(anthropic.request_to_openai(parsed.body, model, stream))
        translate = lambda raw: anthropic.response_from_openai(raw, client_model)  # noqa: E731
        streamer = lambda: anthropic.StreamToAnthropic(client_model).translate  # noqa: E731
    elif adapter == "gemini" and endpoint in ("generateContent", "streamGenerateContent"):
        path = "/chat/completions"
        stream = endpoint == "streamGenerateContent"
        sse = "alt=sse" in client_path
        body = _dumps(gemini.request_to_openai(parsed.body, model, stream))
        translate = lambda raw: gemini.response_from_openai(raw, client_model)  # noqa: E731
        streamer = lambda: gemini.StreamToGemini(client_model, sse).translate  # noqa: E731
        ctype = "text/event-stream" if sse else "application/json"
    else:
        raise RouteError(f"{adapter} {endpoint} requests cannot be sent to a private OpenAI-compatible model")
    headers = {"content-type": "application/json", "accept": "text/event-stream" if stream else "application/json"}
    headers.update(dest.auth_headers())
    return RoutePlan(
        target=dest.name,
        url=dest.url + path,
        headers=headers,
        body=body,
        translate_response=translate,
        stream_translator=streamer if stream else None,
        timeout_s=dest.timeout_s,
        stream=stream,
        connect_timeout_s=dest.connect_timeout_s,
        ca_file=dest.ca_file,
        private_model=model,
        client_adapter=adapter,
        client_endpoint=endpoint,
        on_unavailable=on_unavailable,
        unavailable_message=unavailable_message(dest),
        stream_content_type=ctype,
    )


def unavailable_message(dest: PrivateDestination) -> str:
    """What the user reads when the private model is down and the policy blocks."""
    return (
        f"This prompt may only go to the company's private model ({dest.name}), which is not responding "
        "right now, so it was not sent anywhere. Try again in a few minutes, or remove the confidential content."
    )


def make_router(policy: Any) -> Callable[..., RoutePlan]:
    """A pipeline Router (parsed, decision, ctx, client path) -> RoutePlan over a Policy or a PolicyHolder."""

    def route(parsed: Any, decision: Decision, ctx: Any, path: str = "") -> RoutePlan:
        pol = policy.get() if hasattr(policy, "get") else policy
        dests = getattr(pol, "destinations", None)
        if dests is None:
            raise RouteError("no private model is configured")
        on_unavailable = getattr(pol, "on_private_unavailable", "block")
        return plan_route(decision, parsed, dests, client_path=path, on_unavailable=on_unavailable)

    return route
