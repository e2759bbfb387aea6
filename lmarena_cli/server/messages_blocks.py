"""Anthropic's content blocks in the turn's plain form (:mod:`.turn`), for :mod:`.messages_fields`.

A user message's ``tool_result`` blocks become ``tool`` messages (:func:`.tools.render_result`,
named after the ``tool_use`` of their id) and its other blocks one user message after them; an
assistant's text and ``tool_use`` blocks the envelopes the model wrote
(:func:`.tools.render_assistant`); an ``image`` block an ``image_url`` part; a ``document`` block
its text; a ``system`` message among the messages a ``[System]`` note where it stands. Errors are
:class:`FieldError` naming the block. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import FieldError
from . import fields, tools
from .turn import Message

#: Blocks the site has no use for, left out of the transcript.
IGNORED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def system_note(blocks: list[Mapping[str, Any]], where: str) -> Message:
    """A system message among the messages (Claude Code sends one after the user's first, under
    the beta ``mid-conversation-system``): a ``[System]`` note in the user's turn, where it
    stands. The site has no system role, and a note in place keeps every later history matching
    the stored transcript."""
    texts = [text_of_block(block, f"{where}[{index}]") for index, block in enumerate(blocks)]
    return {"role": "user", "content": "[System]\n" + "\n".join(texts)}


def blocks_of(content: Any, where: str) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise FieldError(where, f"{where} must be a string or an array of content blocks")
    for index, block in enumerate(content):
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise FieldError(f"{where}[{index}]", f"{where}[{index}] must be a content block")
    return content


def user_messages(
    blocks: list[Mapping[str, Any]], names: dict[str, str], where: str
) -> list[Message]:
    """Each ``tool_result`` as a tool message, then the other blocks as one user message."""
    out: list[Message] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        spot, kind = f"{where}[{index}]", block["type"]
        if kind == "tool_result":
            out.append(_result(block, names, spot))
        elif kind not in IGNORED_BLOCKS:
            parts.append(_part(block, spot))
    if parts or not out:
        out.append({"role": "user", "content": _content(parts)})
    return out


def assistant_message(
    blocks: list[Mapping[str, Any]], names: dict[str, str], where: str
) -> Message:
    texts: list[str] = []
    calls: list[tuple[str, Any]] = []
    for index, block in enumerate(blocks):
        spot, kind = f"{where}[{index}]", block["type"]
        if kind == "text":
            texts.append(text_of_block(block, spot))
        elif kind == "tool_use":
            name, call_id = block.get("name"), block.get("id")
            if not isinstance(name, str) or not isinstance(call_id, str):
                raise FieldError(spot, f"{spot}: a tool_use block needs a string id and name")
            names[call_id] = name
            arguments = block.get("input")
            calls.append((name, arguments if arguments is not None else {}))
        elif kind not in IGNORED_BLOCKS:
            raise FieldError(
                f"{spot}.type", f"{spot}.type {kind!r} is not supported in an assistant message"
            )
    # Joined as they are: a streamed answer with text after a call comes back as two text
    # blocks, which together are the answer's text as the store keeps it.
    text = "".join(texts)
    content = tools.render_assistant(text, calls) if calls else text
    return {"role": "assistant", "content": content}


def _result(block: Mapping[str, Any], names: dict[str, str], where: str) -> Message:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise FieldError(f"{where}.tool_use_id", f"{where}.tool_use_id must be a tool_use id")
    error = block.get("is_error")
    if error is not None and not isinstance(error, bool):
        raise FieldError(f"{where}.is_error", f"{where}.is_error must be true or false")
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if content is not None:
        for index, part in enumerate(blocks_of(content, f"{where}.content")):
            converted = _part(part, f"{where}.content[{index}]")
            if converted["type"] == "text":
                texts.append(converted["text"])
            else:
                images.append(converted)
    text = tools.render_result(call_id, names.get(call_id), "\n".join(texts), error=bool(error))
    if not images:
        return {"role": "tool", "content": text}
    return {"role": "tool", "content": [{"type": "text", "text": text}, *images]}


def _part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A user content block as a plain part: ``text`` (documents too) or ``image_url``."""
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": text_of_block(block, where)}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _image_url(block, where)}}
    if kind == "document":
        return {"type": "text", "text": _document(block, where)}
    raise FieldError(
        f"{where}.type",
        f"{where}.type must be text, image, document or tool_result, not {kind!r}",
    )


def _content(parts: list[dict[str, Any]]) -> Any:
    """Parts as plain content: a string when they are all text."""
    if all(part["type"] == "text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def text_of_block(block: Mapping[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise FieldError(f"{where}.text", f"{where}.text must be a string")
    return text


def _source(block: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    source = block.get("source")
    if not isinstance(source, Mapping):
        raise FieldError(f"{where}.source", f"{where}.source must be an object")
    return source


def _image_url(block: Mapping[str, Any], where: str) -> str:
    source = _source(block, where)
    kind = source.get("type")
    if kind == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str) or not data:
            raise FieldError(
                f"{where}.source", f"{where}.source needs a media_type and base64 data"
            )
        return f"data:{media};base64,{data}"
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise FieldError(f"{where}.source.url", f"{where}.source.url must be a URL")
        return url
    raise FieldError(
        f"{where}.source.type",
        f"{where}.source.type must be base64 or url, not {kind!r} (uploaded files are not "
        "supported)",
    )


def _document(block: Mapping[str, Any], where: str) -> str:
    source = _source(block, where)
    kind, title = source.get("type"), block.get("title")
    name = title if isinstance(title, str) and title.strip() else "document"
    if kind == "base64":
        media = source.get("media_type") or "application/pdf"
        data = source.get("data")
        uri = f"data:{media};base64,{data}" if isinstance(data, str) and data else None
        return fields.file_as_text(uri, name, f"{where}.source.data")
    if kind == "text":
        data = source.get("data")
        if not isinstance(data, str):
            raise FieldError(f"{where}.source.data", f"{where}.source.data must be a string")
        return f"[File: {name}]\n{data}" if title else data
    if kind == "content":
        inner = blocks_of(source.get("content"), f"{where}.source.content")
        spot = f"{where}.source.content"
        texts = [
            text_of_block(p, f"{spot}[{i}]") for i, p in enumerate(inner) if p["type"] == "text"
        ]
        return "\n".join(texts)
    raise FieldError(
        f"{where}.source.type",
        f"{where}.source.type must be base64, text or content, not {kind!r} (URLs and uploaded "
        "files are not fetched)",
    )


__all__ = [
    "IGNORED_BLOCKS",
    "assistant_message",
    "blocks_of",
    "system_note",
    "text_of_block",
    "user_messages",
]
