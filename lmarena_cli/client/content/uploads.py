"""Image inputs, checked and read: what ``chat.send(..., images=[...])`` accepts.

A source may be bytes, a ``data:image/...;base64,`` URI, a path (``str`` or ``os.PathLike``), a
binary file object (anything with ``..read``), or an http(s) URL, fetched through
:func:`lmarena_cli.netguard.fetch_url` under the address policy. Every one becomes an
:class:`ImageInput` whose MIME type comes from the bytes' magic, never from a name or a header:
the site accepts PNG, JPEG, GIF and WebP, and a ``cat.png`` that is really an SVG or an HTML
error page is refused here with a message naming what it is, not by the site with a 4xx.

The upload itself (``generateUploadUrl``, PUT, ``getSignedUrl``) is the client's job;
:class:`UploadCache` lets it skip uploading the same bytes again while their signed URL is valid.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import inspect
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from ...errors import InputError
from ..transport.netguard import fetch_url, format_size

#: Clients of the site cap images at 10 MB; larger ones have been answered with 413.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: What the site takes, with the extension used for default file names.
SUPPORTED_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}
#: Seconds before a signed URL's stated expiry at which it is no longer reused.
EXPIRY_MARGIN = 60.0

_SUPPORTED_TEXT = "only PNG, JPEG, GIF and WebP images can be sent"
_DESCRIPTIONS = {
    "image/svg+xml": "an SVG image",
    "text/html": "an HTML page",
    "image/bmp": "a BMP image",
    "image/tiff": "a TIFF image",
    "image/x-icon": "an ICO icon",
    "image/heic": "a HEIC image",
    "image/avif": "an AVIF image",
    "image/jxl": "a JPEG XL image",
    "video/mp4": "an MP4 video",
    "application/pdf": "a PDF document",
}
_OTHER_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class Readable(Protocol):
    """A binary file object: ``open(path, "rb")``, ``io.BytesIO``, a spooled upload..."""

    def read(self, size: int = -1, /) -> Any: ...


ImageSource = bytes | bytearray | memoryview | str | os.PathLike[str] | Readable


@dataclass(frozen=True)
class ImageInput:
    """Checked image bytes, their sniffed MIME type and the file name to upload them under."""

    data: bytes
    mime_type: str
    filename: str

    @property
    def digest(self) -> str:
        """sha256 hex digest of the bytes: the :class:`UploadCache` key."""
        return hashlib.sha256(self.data).hexdigest()


def sniff_mime(data: bytes) -> str | None:
    """The MIME type the bytes' magic says, or None when no known format matches.

    Recognises the four formats the site takes (``image/png``, ``image/jpeg``, ``image/gif``,
    ``image/webp``) and, to name them in refusals, a few it does not (SVG, HTML, BMP, TIFF, ICO,
    HEIC, AVIF, JPEG XL, MP4, PDF). Check ``in SUPPORTED_TYPES`` before sending.
    """
    head = bytes(data[:1024])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return _sniff_unsupported(head)


def _sniff_unsupported(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "image/heic"
        return "image/avif" if brand in (b"avif", b"avis") else "video/mp4"
    prefixes = (
        (b"%PDF-", "application/pdf"),
        (b"BM", "image/bmp"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"\x00\x00\x01\x00", "image/x-icon"),
        (b"\xff\x0a", "image/jxl"),
        (b"\x00\x00\x00\x0cJXL ", "image/jxl"),
    )
    for prefix, mime in prefixes:
        if head.startswith(prefix):
            return mime
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if text.startswith((b"<svg", b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in text:
        return "image/svg+xml"
    return None


async def load_image(
    source: ImageSource,
    filename: str | None = None,
    *,
    allow_private: bool = False,
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout: float = 30,
    index: int = 1,
) -> ImageInput:
    """Read ``source`` and check it: size (non-empty, at most ``max_bytes``) and type (magic).

    ``index`` numbers the image among those of one message; it names sources that have no name
    of their own in messages ("image 2") and in the default file name (``image-2.png``).
    URLs are fetched with ``allow_private`` and ``timeout`` (see :mod:`lmarena_cli.netguard`).
    Raises :class:`InputError` for anything that cannot be sent.
    """
    data, label = await _read(source, index, allow_private, max_bytes, timeout)
    if not data:
        raise InputError(f"{label} is empty (0 bytes); expected an image")
    if len(data) > max_bytes:
        raise InputError(
            f"{label} is {format_size(len(data))}; the limit is {format_size(max_bytes)}"
        )
    mime = sniff_mime(data)
    if mime not in SUPPORTED_TYPES:
        raise InputError(f"{label} is {_describe(mime, data)}; {_SUPPORTED_TEXT}")
    name = Path(filename).name if filename else f"image-{index}.{SUPPORTED_TYPES[mime]}"
    return ImageInput(data=data, mime_type=mime, filename=name)


async def _read(
    source: ImageSource, index: int, allow_private: bool, max_bytes: int, timeout: float
) -> tuple[bytes, str]:
    """The bytes of ``source`` (at most ``max_bytes + 1`` of them) and how to name it."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), f"image {index}"
    if isinstance(source, str) and source[:5].lower() == "data:":
        label = f"image {index} (a data URI)"
        return decode_data_uri(source, max_bytes=max_bytes, label=label), label
    if isinstance(source, str) and source[:8].lower().startswith(("http://", "https://")):
        data, _type = await fetch_url(
            source, allow_private=allow_private, max_bytes=max_bytes, timeout=timeout
        )
        return data, source
    if isinstance(source, str) and _OTHER_SCHEME.match(source):
        raise InputError(f"cannot read {source}: only http and https URLs can be fetched")
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return await asyncio.to_thread(_read_path, path, max_bytes), str(path)
    if hasattr(source, "read"):
        return await _read_file_object(source, max_bytes), _file_label(source, index)
    raise InputError(
        f"image {index} is a {type(source).__name__}; expected bytes, a path, a data URI, "
        "an http(s) URL or a binary file object"
    )


def _read_path(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > max_bytes:  # refuse without reading; pipes report 0 and are read
                raise InputError(
                    f"{path} is {format_size(size)}; the limit is {format_size(max_bytes)}"
                )
            return file.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


async def _read_file_object(source: Readable, max_bytes: int) -> bytes:
    if inspect.iscoroutinefunction(source.read):
        data = await source.read(max_bytes + 1)
    else:
        data = await asyncio.to_thread(source.read, max_bytes + 1)
    if isinstance(data, str):
        raise InputError(
            f"{_file_label(source, 1)} was opened in text mode; open it with 'rb' to send it"
        )
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"reading {_file_label(source, 1)} gave {type(data).__name__}, not bytes")
    return bytes(data)


def _file_label(source: Readable, index: int) -> str:
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and name else f"image {index}"


def decode_data_uri(
    uri: str, *, max_bytes: int | None = None, label: str = "the data URI"
) -> bytes:
    """The bytes of a ``data:...;base64,`` URI (InputError naming ``label`` when it is not one).

    With ``max_bytes``, a URI whose payload would decode to more is refused before decoding.
    """
    header, comma, payload = uri.partition(",")
    if not comma:
        raise InputError(f"{label} has no ',' before its data; expected data:image/...;base64,...")
    if not header.lower().endswith(";base64"):
        raise InputError(f"{label} is not base64; expected data:image/...;base64,...")
    payload = "".join(payload.split())
    if max_bytes is not None and len(payload) * 3 // 4 > max_bytes + 3:
        size = format_size(len(payload) * 3 // 4)
        raise InputError(f"{label} is about {size}; the limit is {format_size(max_bytes)}")
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{label} is not valid base64") from None


def _describe(mime: str | None, data: bytes) -> str:
    if mime is None:
        return f"not an image format this tool knows (it starts with {data[:8].hex(' ')})"
    return f"{_DESCRIPTIONS.get(mime, mime)} ({mime})"


# --- the upload cache -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """An uploaded image as the site's ``experimental_attachments`` entry wants it."""

    key: str
    url: str
    content_type: str | None
    #: Epoch seconds after which ``url`` should not be used (None: unknown, never reused).
    expires_at: float | None

    def attachment(self, content_type: str | None = None) -> dict[str, str]:
        """The ``experimental_attachments`` entry; ``content_type`` overrides the stored one."""
        mime = content_type or self.content_type or "application/octet-stream"
        # Clients use the object key as the name; the site accepts it (arena-protocol §6.4).
        return {"name": self.key, "contentType": mime, "url": self.url}


def signed_url_expiry(url: str, margin: float = EXPIRY_MARGIN) -> float | None:
    """When a presigned S3/R2 URL stops being safe to use: ``X-Amz-Date + X-Amz-Expires - margin``.

    None when the URL does not carry both parameters in the expected form.
    """
    query = {name.lower(): value for name, value in parse_qsl(urlsplit(url).query)}
    try:
        signed = datetime.strptime(query["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        lifetime = int(query["x-amz-expires"])
    except (KeyError, ValueError):
        return None
    return signed.timestamp() + lifetime - margin


class UploadCache:
    """Signed URLs of uploaded images by sha256 of their bytes, while the URLs stay valid.

    In memory, per process (a ``serve`` process or one ``chat`` session); the oldest entries
    go first past ``max_entries``.
    """

    def __init__(self, max_entries: int = 256, clock: Callable[[], float] = time.time) -> None:
        self._entries: OrderedDict[str, Attachment] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    def get(self, digest: str) -> Attachment | None:
        """The attachment for these bytes, or None when unknown or about to expire."""
        found = self._entries.get(digest)
        if found is None:
            return None
        if found.expires_at is None or self._clock() >= found.expires_at:
            del self._entries[digest]
            return None
        return found

    def put(
        self, digest: str, *, key: str, url: str, content_type: str | None = None
    ) -> Attachment:
        """Build the attachment for an upload, remember it when its expiry is known, return it."""
        attachment = Attachment(key, url, content_type, signed_url_expiry(url))
        if attachment.expires_at is not None and self._clock() < attachment.expires_at:
            self._entries[digest] = attachment
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return attachment

    def __len__(self) -> int:
        return len(self._entries)
