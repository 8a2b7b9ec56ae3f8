"""Send a RoutePlan to the private model with httpx: its own CA, timeouts, replies translated back.

For an addon that answers routed requests itself (in its request hook): `send` never waits longer than
the plan's timeouts and raises PrivateModelUnavailable (a user-safe message) when the model is down,
slow or failing, so the caller can block or fall back to redact-and-send-public as the policy says.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httpx

from guard.routing import RoutePlan


class PrivateModelUnavailable(Exception):
    """The private model did not answer in time or failed (5xx); the message names no prompt content."""


@dataclass(frozen=True)
class RoutedReply:
    """The private model's reply, already in the client's own wire format."""

    status: int
    headers: dict[str, str]
    body: bytes


def _verify(plan: RoutePlan) -> ssl.SSLContext | bool:
    if plan.ca_file:
        return ssl.create_default_context(cafile=plan.ca_file)
    return True


async def send(plan: RoutePlan, *, transport: httpx.AsyncBaseTransport | None = None) -> RoutedReply:
    """Send the plan and return the translated reply (a stream is read whole, then translated)."""
    timeout = httpx.Timeout(plan.timeout_s, connect=plan.connect_timeout_s)
    try:
        async with httpx.AsyncClient(verify=_verify(plan), timeout=timeout, transport=transport, trust_env=False) as c:
            return await asyncio.wait_for(_exchange(c, plan), timeout=plan.timeout_s + plan.connect_timeout_s)
    except (httpx.TimeoutException, TimeoutError):
        raise PrivateModelUnavailable(
            f"private model {plan.target} did not answer within {plan.timeout_s:g} s"
        ) from None
    except httpx.HTTPError as exc:
        raise PrivateModelUnavailable(f"private model {plan.target} is unreachable ({type(exc).__name__})") from None
    except ssl.SSLError:
        raise PrivateModelUnavailable(f"private model {plan.target}: TLS verification failed") from None


async def _exchange(c: httpx.AsyncClient, plan: RoutePlan) -> RoutedReply:
    async with c.stream(plan.method, plan.url, headers=plan.headers, content=plan.body) as resp:
        if resp.status_code >= 500:
            raise PrivateModelUnavailable(f"private model {plan.target} failed (HTTP {resp.status_code})")
        ctype = resp.headers.get("content-type", "")
        if plan.stream and resp.status_code < 400 and "text/event-stream" in ctype:
            step = plan.stream_translator() if plan.stream_translator else None
            parts = []
            async for chunk in resp.aiter_bytes():
                parts.append(step(chunk) if step else chunk)
            if step:
                parts.append(step(b""))
            out_type = plan.stream_content_type if step else ctype
            return RoutedReply(resp.status_code, {"content-type": out_type}, b"".join(parts))
        body = await resp.aread()
        if plan.translate_response:
            body = plan.translate_response(body)
            ctype = "application/json"
        return RoutedReply(resp.status_code, {"content-type": ctype or "application/json"}, body)
