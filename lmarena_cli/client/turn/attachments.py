"""Image uploads: :class:`Uploader` turns a checked image into a message's attachment.

The site's way (protocol §6): the server action ``generateUploadUrl`` gives a presigned URL and an
object key, the bytes are PUT there, and ``getSignedUrl`` gives the URL the message links to. The
same bytes are not uploaded again while that URL is valid (:class:`~..content.uploads.UploadCache`).
Reading and checking images is :mod:`..content.uploads`; the HTTP is the connection's
:class:`~..transport.site_transport.SiteTransport` (the PUT too goes from the page when that
transport is in use).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ...errors import InputError, ProtocolError, UpstreamUnavailable
from ...settings import Settings
from ...site.models import Model
from ..content.uploads import ImageInput, ImageSource, UploadCache, load_image
from ..transport.base import Transport

#: An image to send, optionally with the file name to upload it under.
ImageArg = ImageSource | tuple[ImageSource, str | None]

#: Calls a server action by name with its arguments (``SiteCalls.server_action``).
ServerAction = Callable[[str, list[Any]], Awaitable[Any]]


class Uploader:
    """Uploads images through ``http``, calling the site's actions through ``server_action``."""

    def __init__(
        self, http: Transport, server_action: ServerAction, cache: UploadCache | None = None
    ) -> None:
        self._http = http
        self._server_action = server_action
        self._cache = cache if cache is not None else UploadCache()

    async def upload_all(
        self, images: Sequence[ImageArg], models: list[Model], settings: Settings
    ) -> list[dict[str, str]]:
        """Each image read, checked and uploaded for a send to ``models`` (a battle's are not
        known: none, and it takes no images); the ``experimental_attachments`` entries."""
        if not images:
            return []
        if not models:
            raise InputError("a battle's models are not known in advance, so it takes no images")
        for model in models:
            if not model.takes_images:
                raise InputError(
                    f"{model.name} does not take images; `lmarena models --vision` "
                    "lists the models that do"
                )
        loaded = []
        for index, item in enumerate(images, start=1):
            source, filename = item if isinstance(item, tuple) else (item, None)
            loaded.append(
                await load_image(
                    source,
                    filename,
                    allow_private=settings.allow_private_urls,
                    timeout=settings.timeout,
                    index=index,
                )
            )
        return [await self.upload(image) for image in loaded]

    async def upload(self, image: ImageInput) -> dict[str, str]:
        """The ``experimental_attachments`` entry for ``image``, uploading it when needed."""
        cached = self._cache.get(image.digest)
        if cached is not None:
            return cached.attachment(image.mime_type)
        created = await self._server_action("generateUploadUrl", [image.filename, image.mime_type])
        upload_url, key = (
            _field(created, "uploadUrl", "generateUploadUrl"),
            _field(created, "key", "generateUploadUrl"),
        )
        status, text = await self._http.put(
            upload_url,
            image.data,
            content_type=image.mime_type,
            what=f"uploading {image.filename}",
        )
        if status == 413:
            raise InputError(
                f"the site refused {image.filename} ({len(image.data)} bytes) as too large"
            )
        if status >= 300:
            raise UpstreamUnavailable(
                f"uploading {image.filename} failed with HTTP {status}", detail=text
            )
        signed = await self._server_action("getSignedUrl", [key])
        url = _field(signed, "url", "getSignedUrl")
        entry = self._cache.put(image.digest, key=key, url=url)
        return entry.attachment(image.mime_type)


def _field(value: Any, name: str, action: str) -> str:
    data = value.get("data") if isinstance(value, dict) else None
    if isinstance(data, dict) and isinstance(data.get(name), str):
        return str(data[name])
    raise ProtocolError(
        f"the site's {action} action answered without data.{name}", detail=repr(value)[:200]
    )


__all__ = ["ImageArg", "ServerAction", "Uploader"]
