"""``lmarena history export``'s formats, each made from the conversation's JSON record.

The record is what ``history show --json`` prints: the conversation's facts, its ``transcript``
(``{"role", "content"}`` turns, plain text) and its ``exchanges`` (per turn: the prompt's images,
each answer's side, model, text and images, the files ``ask -o`` saved; see
:mod:`..state.exchanges`). A turn recorded by an older lmarena has no exchange: its answer is
then the transcript's, credited to the conversation's model A.

* :func:`markdown`: a heading per turn; each answer under its model (both answers of a
  side-by-side or battle turn); images as links to their files (or URLs).
* :func:`openai_body`: a Chat Completions request body that replays the conversation.
* :func:`anthropic_body`: a Messages API request body that replays it.

Both request bodies carry side A's answers (the conversation's model A). A prompt's image goes
in as a ``data:`` URL of the file's bytes while the file is still readable, or as its URL when it
was an http(s) URL; one not at hand (the file is gone, or it was given as bytes or inline data,
which the store does not keep) is left out, and :func:`missing_images` names it for a warning.
Nothing is added to the text: the messages' text stays the stored transcript's, which is what
``lmarena serve`` matches a history against, so a body sent to it continues the conversation.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: ``max_tokens`` of an Anthropic body: required by the API; the site sets its own limits.
ANTHROPIC_MAX_TOKENS = 4096
#: A prompt's image larger than this is named, not embedded (the site's own limit).
MAX_IMAGE_BYTES = 10 * 1024 * 1024

#: An Anthropic body's stand-in for an answer without text (an image model's): the API
#: refuses an empty message.
NO_TEXT = "[an answer without text]"

Message = dict[str, Any]


def turns(record: dict[str, Any]) -> Iterator[tuple[Message, dict[str, Any] | None]]:
    """Each transcript message with its turn's exchange (None when none was recorded)."""
    exchanges = {item["turn"]: item for item in record.get("exchanges", [])}
    number = 0
    for message in record["transcript"]:
        if message.get("role") == "user":
            number += 1
        yield message, exchanges.get(number) if number else None


# --- markdown -------------------------------------------------------------------------------------


def markdown(record: dict[str, Any]) -> str:
    """The conversation as markdown: a heading per turn, each answer under its model."""
    models = ", ".join(record["models"]) or "not known"
    lines = [
        f"# {record['title'] or record['id']}",
        "",
        f"- conversation: `{record['id']}`",
        f"- models: {models}",
        f"- mode: {record['mode']}",
        f"- created: {record['created_at']}; updated: {record['updated_at']}",
    ]
    for key, label in (("continues", "continues"), ("continued_in", "continued in")):
        if record.get(key):
            lines.append(f"- {label}: `{record[key]}`")
    number = 0
    for message, exchange in turns(record):
        role, text = message.get("role"), str(message.get("content", ""))
        if role == "user":
            number += 1
            lines += ["", f"## Turn {number}", "", "### User", "", text]
            images = exchange.get("images", []) if exchange else []
            lines += _image_lines(images, "image")
        elif role == "assistant":
            lines += _answer_lines(record, text, exchange)
        else:
            lines += ["", f"## {str(role).capitalize()}", "", text]
    return "\n".join(lines) + "\n"


def _answer_lines(record: dict[str, Any], text: str, exchange: dict[str, Any] | None) -> list[str]:
    answers = exchange.get("answers", []) if exchange else []
    if not answers:
        model = record["models"][0] if record["models"] else "Assistant"
        return ["", f"### {model}", "", text]
    lines: list[str] = []
    saved = list(exchange.get("saved", [])) if exchange else []
    for n, answer in enumerate(answers):
        model = answer.get("model") or "model not known"
        heading = model if len(answers) == 1 else f"{str(answer['side']).upper()}: {model}"
        # Side A's text is the transcript's: a regenerated answer replaced it there.
        said = text if n == 0 else str(answer.get("text", ""))
        lines += ["", f"### {heading}", *(["", said] if said else [])]
        links = [
            saved[i] if n == 0 and i < len(saved) else url
            for i, url in enumerate(answer.get("images", []))
        ]
        lines += _image_lines(links, "generated image")
    return lines


def _image_lines(images: list[str | None], label: str) -> list[str]:
    lines = []
    for n, ref in enumerate(images, 1):
        if ref is None:
            lines += ["", f"*({label} {n}: given as bytes or inline data; not kept)*"]
        elif ref.startswith("data:"):
            lines += ["", f"*({label} {n}: sent inline; `lmarena ask -o PATH` saves it)*"]
        else:
            lines += ["", f"![{label} {n}](<{ref}>)"]
    return lines


# --- request bodies -------------------------------------------------------------------------------


def openai_body(record: dict[str, Any], default_model: str) -> dict[str, Any]:
    """``{"model", "messages"}`` of OpenAI's Chat Completions that replays the conversation."""
    messages: list[Message] = []
    for message, exchange in turns(record):
        role, text = str(message.get("role")), str(message.get("content", ""))
        images = exchange.get("images", []) if exchange and role == "user" else []
        if not images:
            messages.append({"role": role, "content": text})
            continue
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        for ref in images:
            url = _image_url(ref)
            if url is not None:
                parts.append({"type": "image_url", "image_url": {"url": url}})
        messages.append({"role": role, "content": parts})
    return {"model": _model(record, default_model), "messages": messages}


def anthropic_body(record: dict[str, Any], default_model: str) -> dict[str, Any]:
    """``{"model", "max_tokens", "system", "messages"}`` of Anthropic's Messages API that
    replays the conversation: system turns joined into ``system`` (left out when there are
    none), and two messages of the same role in a row (a turn left unanswered) merged, as the
    API wants them alternating."""
    system: list[str] = []
    messages: list[Message] = []
    for message, exchange in turns(record):
        role, text = str(message.get("role")), str(message.get("content", ""))
        if role not in ("user", "assistant"):
            system.append(text)
            continue
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        if role == "assistant" and not text:
            blocks.append({"type": "text", "text": NO_TEXT})  # the API refuses empty content
        for ref in exchange.get("images", []) if exchange and role == "user" else []:
            url = _image_url(ref)
            if url is not None:
                blocks.append(_anthropic_image(url))
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += blocks
        else:
            messages.append({"role": role, "content": blocks})
    body: dict[str, Any] = {
        "model": _model(record, default_model),
        "max_tokens": ANTHROPIC_MAX_TOKENS,
    }
    if system:
        body["system"] = "\n\n".join(system)
    body["messages"] = messages
    return body


def missing_images(record: dict[str, Any]) -> list[str]:
    """The prompts' images a request body leaves out, each named with its turn."""
    missing = []
    for item in record.get("exchanges", []):
        for n, ref in enumerate(item.get("images", []), 1):
            if _image_url(ref) is None:
                what = "given as bytes or inline data" if ref is None else f"{ref} is not readable"
                missing.append(f"turn {item['turn']}, image {n} ({what})")
    return missing


def _anthropic_image(url: str) -> dict[str, Any]:
    if url.startswith("data:"):
        mime, _, data = url[5:].partition(";base64,")
        return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _model(record: dict[str, Any], default_model: str) -> str:
    return str(record["models"][0]) if record["models"] else default_model


def _image_url(ref: str | None) -> str | None:
    """A data: URL of the file's bytes, or the http(s) URL; None when not at hand."""
    if ref is None:
        return None
    if ref.startswith(("http://", "https://", "data:")):
        return ref
    try:
        path = Path(ref)
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    from ..client.content.uploads import SUPPORTED_TYPES, sniff_mime

    mime = sniff_mime(data)
    if mime not in SUPPORTED_TYPES:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


__all__ = ["anthropic_body", "markdown", "missing_images", "openai_body", "turns"]
