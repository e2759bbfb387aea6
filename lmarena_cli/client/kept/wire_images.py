"""Images of a send on their way to a kept server: read where the command runs, checked where
the server runs, and named in messages as the command would name them in-process.

The command (:func:`image_to_json`) reads a path's bytes itself (the server's working directory
is not the command's); URLs and data URIs travel as they are and are fetched by the server. The
server (:func:`image_from_json`) hands ``ChatSession.send`` a file object named as the command
named the image, so that ``load_image`` says what it would have said in the command's process.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

from ...errors import InputError

#: The size limit of an image (``uploads.MAX_IMAGE_BYTES``; uploads imports aiohttp).
MAX_IMAGE_BYTES = 10 * 1024 * 1024
_OTHER_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def image_to_json(item: Any) -> dict[str, Any]:
    """An image argument of ``send`` as the server needs it: a path's bytes are read here (the
    server's working directory is not this one); URLs and data URIs travel as they are."""
    source, filename = item if isinstance(item, tuple) else (item, None)
    out: dict[str, Any] = {"filename": filename}
    if isinstance(source, bytes | bytearray | memoryview):
        out["bytes"] = base64.b64encode(bytes(source)).decode()
    elif isinstance(source, str) and (source[:5].lower() == "data:" or _OTHER_SCHEME.match(source)):
        out["source"] = source
    elif isinstance(source, str | os.PathLike):
        out.update(_read_path(Path(source)))
        # What the store remembers of it (recording.image_ref): the path, not the bytes.
        out["ref"] = str(Path(source).expanduser().absolute())
    elif hasattr(source, "read"):
        data = source.read(MAX_IMAGE_BYTES + 1)
        name = getattr(source, "name", None)
        out["label"] = name if isinstance(name, str) and name else None
        if isinstance(data, bytes | bytearray | memoryview):
            out["bytes"] = base64.b64encode(bytes(data)).decode()
        else:
            out["not_bytes"] = type(data).__name__
    else:
        out["invalid"] = type(source).__name__
    return out


def _read_path(path: Path) -> dict[str, Any]:
    """A file's bytes, or why it cannot be read, named as the in-process send names it."""
    label = str(path)
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > MAX_IMAGE_BYTES:
                return {"label": label, "too_large": size}
            data = file.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        return {"label": label, "error": f"cannot read {path}: {exc.strerror or exc}"}
    return {"label": label, "bytes": base64.b64encode(data).decode()}


class _Relayed:
    """A command's image as a file object named as the command named it: ``load_image`` then
    says what it would have said in the command's own process."""

    def __init__(
        self, label: str | None, data: Any = b"", error: str | None = None, ref: str | None = None
    ) -> None:
        self.name = label
        #: The file's absolute path in the command's process (``recording.image_ref``).
        self.ref = ref
        self._data = data
        self._error = error

    def read(self, size: int = -1, /) -> Any:
        if self._error is not None:
            raise InputError(self._error)
        return self._data


def image_from_json(item: dict[str, Any], index: int) -> Any:
    """An image of a command's ``send`` (:func:`~lmarena_cli.client.kept.remote.image_to_json`)."""
    filename = item.get("filename")
    label = item.get("label")
    from ..transport.netguard import format_size

    if "source" in item:
        source: Any = str(item["source"])
    elif "bytes" in item:
        data = base64.b64decode(item["bytes"])
        ref = item.get("ref")
        relayed = _Relayed(label, data, ref=str(ref) if ref else None)
        source = data if label is None and "label" not in item else relayed
    elif "too_large" in item:
        size = format_size(int(item["too_large"]))
        limit = format_size(MAX_IMAGE_BYTES)
        source = _Relayed(label, error=f"{label} is {size}; the limit is {limit}")
    elif "error" in item:
        source = _Relayed(label, error=str(item["error"]))
    elif "not_bytes" in item:
        source = _Relayed(label, data="")
    else:
        source = _Relayed(
            label,
            error=f"image {index} is a {item.get('invalid')}; expected bytes, a path, a data URI, "
            "an http(s) URL or a binary file object",
        )
    return (source, filename) if filename else source


__all__ = ["MAX_IMAGE_BYTES", "image_from_json", "image_to_json"]
