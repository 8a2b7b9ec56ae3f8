"""ChatGPT web app (`/backend-api/conversation`), best effort: the format is private and changes.

Understood: `messages[].content.parts[]` strings (content_type text / multimodal_text), the
author role, `conversation_id` as the conversation hint. Image / file asset pointers are skipped;
parts of any other shape are scanned deeply. Every other body on the same host gets the generic deep scan.
"""

from __future__ import annotations

from typing import Any

from guard.providers._wire import Adapter, Collector, Extraction, RequestError, as_list, json_response
from guard.providers.generic import error_event
from guard.providers.generic import extract as generic_extract


def endpoint(path: str) -> str | None:
    """Map a request path (query already removed) to an endpoint name."""
    path = path.rstrip("/")
    # /backend-api/conversation, and the newer /backend-api/f/conversation seen in 2025 traffic
    if path.startswith("/backend-api") and path.endswith("/conversation"):
        return "conversation"
    return None


def extract(endpoint: str, path: str, body: Any) -> Extraction:
    """Read the segments of a ChatGPT web conversation request."""
    if not isinstance(body, dict):
        raise RequestError(f"{endpoint} request body must be a JSON object")
    if endpoint != "conversation":
        return generic_extract(endpoint, path, body)
    c = Collector()
    for i, msg in enumerate(as_list(body.get("messages", []), "messages")):
        if not isinstance(msg, dict):
            c.deep(msg, ("messages", i))
            continue
        author = msg.get("author") if isinstance(msg.get("author"), dict) else {}
        role = author.get("role") if isinstance(author.get("role"), str) else "user"
        base = ("messages", i, "content")
        content = c.dict_or_scan(msg.get("content"), base, role, "text")
        for j, part in c.each(content.get("parts"), base + ("parts",), role, "text"):
            if isinstance(part, str):
                c.text(part, base + ("parts", j), role)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                c.text(part["text"], base + ("parts", j, "text"), role)
            elif isinstance(part, dict) and "asset_pointer" in str(part.get("content_type")):
                c.skip(base + ("parts", j), "non-text part (image or file pointer) not scanned")
            else:  # any other shape (a list, a dict of another kind): every string in it is scanned
                c.deep(part, base + ("parts", j), role)
        c.text(content.get("text"), base + ("text",), role)
    conv = body.get("conversation_id")
    model = body.get("model") if isinstance(body.get("model"), str) else ""
    return Extraction(endpoint, model, True, tuple(c.segments), tuple(c.skipped), conv if isinstance(conv, str) else "")


def block(endpoint: str, message: str, stream: bool) -> tuple[int, dict[str, str], bytes]:
    """A 400 with `detail`, the field the ChatGPT web app displays for a refused conversation request."""
    return json_response(400, {"detail": message})


def upstream_error(endpoint: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    """The same `detail` the web app displays, with the upstream's failure status."""
    return json_response(status, {"detail": message})


CHATGPT_WEB = Adapter("chatgpt_web", endpoint, extract, block, error_event, upstream_error)
