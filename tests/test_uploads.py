"""Image inputs: every kind of source, types by magic, limits, and the upload cache's expiry."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from lmarena_cli.client.content.uploads import (
    MAX_IMAGE_BYTES,
    Attachment,
    ImageInput,
    UploadCache,
    decode_data_uri,
    load_image,
    signed_url_expiry,
    sniff_mime,
)
from lmarena_cli.errors import InputError
from tests.helpers.servers import loopback_server

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>'


@pytest.fixture
async def image_server() -> AsyncIterator[str]:
    """A loopback server with /cat.jpg (JPEG bytes, no useful content type) and /page."""

    async def cat(_request: web.Request) -> web.Response:
        return web.Response(body=JPEG, content_type="application/octet-stream")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(body=b"<!DOCTYPE html><html></html>", content_type="image/png")

    async with loopback_server({"/cat.jpg": cat, "/page": page}) as url:
        yield url


@pytest.mark.parametrize(
    ("data", "mime"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")],
)
async def test_bytes_are_typed_by_magic_with_a_default_name(data: bytes, mime: str) -> None:
    image = await load_image(data, index=3)
    assert image.data == data
    assert image.mime_type == mime
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
    assert image.filename == f"image-3.{ext[mime]}"


async def test_data_uri_is_decoded_and_its_declared_type_ignored() -> None:
    uri = "data:image/png;base64," + base64.b64encode(GIF).decode()
    image = await load_image(uri)
    assert image == ImageInput(GIF, "image/gif", "image-1.gif")


async def test_data_uri_without_padding_or_with_line_breaks_is_accepted() -> None:
    encoded = base64.b64encode(JPEG).decode().rstrip("=")
    uri = "DATA:image/jpeg;BASE64," + encoded[:20] + "\n" + encoded[20:]
    assert (await load_image(uri)).data == JPEG


@pytest.mark.parametrize(
    ("uri", "said"),
    [
        ("data:image/png;base64", "has no ','"),
        ("data:image/svg+xml,<svg/>", "is not base64"),
        ("data:image/png;base64,***", "is not valid base64"),
    ],
)
async def test_bad_data_uris_are_refused(uri: str, said: str) -> None:
    with pytest.raises(InputError) as caught:
        await load_image(uri)
    assert str(caught.value).startswith("image 1 (a data URI)")
    assert said in str(caught.value)


async def test_path_is_read_and_typed_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(WEBP)
    for source in (path, str(path)):
        image = await load_image(source)
        assert (image.data, image.mime_type, image.filename) == (WEBP, "image/webp", "image-1.webp")


async def test_given_filename_is_kept_without_directories() -> None:
    image = await load_image(PNG, "/home/me/holiday/beach.png")
    assert image.filename == "beach.png"


async def test_missing_path_is_named_in_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(InputError) as caught:
        await load_image(str(missing))
    assert str(caught.value) == f"cannot read {missing}: No such file or directory"


async def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*: Is a directory"):
        await load_image(tmp_path)


async def test_binary_file_object_is_read(tmp_path: Path) -> None:
    assert (await load_image(io.BytesIO(PNG))).mime_type == "image/png"
    path = tmp_path / "cat.gif"
    path.write_bytes(GIF)
    with path.open("rb") as file:
        image = await load_image(file)
    assert image.data == GIF and image.filename == "image-1.gif"


async def test_text_mode_file_is_refused_with_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(b"abc")
    with path.open("r") as file, pytest.raises(InputError, match="open it with 'rb'"):
        await load_image(file)


async def test_url_is_fetched_from_a_loopback_server_when_allowed(image_server: str) -> None:
    image = await load_image(f"{image_server}/cat.jpg", allow_private=True)
    assert (image.data, image.mime_type, image.filename) == (JPEG, "image/jpeg", "image-1.jpg")


async def test_url_on_loopback_is_refused_by_default(image_server: str) -> None:
    with pytest.raises(InputError, match="is a loopback address"):
        await load_image(f"{image_server}/cat.jpg")


async def test_url_serving_html_as_png_is_refused_by_its_magic(image_server: str) -> None:
    with pytest.raises(InputError) as caught:
        await load_image(f"{image_server}/page", allow_private=True)
    assert str(caught.value) == (
        f"{image_server}/page is an HTML page (text/html); "
        "only PNG, JPEG, GIF and WebP images can be sent"
    )


async def test_other_url_schemes_are_not_taken_for_paths() -> None:
    with pytest.raises(InputError, match="only http and https URLs can be fetched"):
        await load_image("ftp://example.invalid/cat.png")


async def test_svg_with_a_png_name_is_refused_naming_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    path.write_bytes(SVG)
    with pytest.raises(InputError) as caught:
        await load_image(path)
    assert str(caught.value) == (
        f"{path} is an SVG image (image/svg+xml); only PNG, JPEG, GIF and WebP images can be sent"
    )


async def test_unknown_bytes_are_refused_showing_their_start() -> None:
    with pytest.raises(InputError) as caught:
        await load_image(b"hello world, not an image")
    assert "image 1 is not an image format this tool knows" in str(caught.value)
    assert "68 65 6c 6c 6f 20 77 6f" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (SVG, "image/svg+xml"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (b"  <!DOCTYPE html><title>x</title>", "text/html"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"BM\x36\x00\x00\x00", "image/bmp"),
        (b"\x00\x00\x00\x1cftypheic\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00", "image/avif"),
        (b"II*\x00\x08\x00", "image/tiff"),
        (b"plain text", None),
        (b"", None),
    ],
)
def test_sniff_names_formats_the_site_does_not_take(data: bytes, mime: str | None) -> None:
    assert sniff_mime(data) == mime


async def test_empty_input_is_refused() -> None:
    with pytest.raises(InputError, match=r"image 2 is empty \(0 bytes\)"):
        await load_image(b"", index=2)


async def test_oversize_bytes_are_refused_with_size_and_limit() -> None:
    with pytest.raises(InputError) as caught:
        await load_image(PNG + b"\x00" * 2000, max_bytes=1024)
    assert str(caught.value) == "image 1 is 2 KiB; the limit is 1 KiB"


async def test_oversize_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    with path.open("wb") as file:  # sparse: 11 MiB on paper, nothing on disk
        file.write(PNG)
        file.truncate(11 * 1024 * 1024)
    with pytest.raises(InputError) as caught:
        await load_image(path)
    assert str(caught.value) == f"{path} is 11 MiB; the limit is 10 MiB"
    assert MAX_IMAGE_BYTES == 10 * 1024 * 1024


async def test_oversize_data_uri_is_refused_before_decoding() -> None:
    uri = "data:image/png;base64," + "A" * 8000
    with pytest.raises(InputError, match=r"is about 5\.9 KiB; the limit is 1 KiB"):
        await load_image(uri, max_bytes=1024)


async def test_oversize_file_object_is_refused() -> None:
    with pytest.raises(InputError, match="the limit is 1 KiB"):
        await load_image(io.BytesIO(PNG + b"\x00" * 4096), max_bytes=1024)


async def test_unsupported_source_type_is_refused() -> None:
    with pytest.raises(InputError, match="image 1 is a int; expected bytes"):
        await load_image(42)  # type: ignore[arg-type]


# --- upload cache ---------------------------------------------------------------------------------

SIGNED = (
    "https://bucket.r2.example/uploads/abc.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Date=20260301T120000Z&X-Amz-Expires=3600&X-Amz-Signature=ff"
)
SIGNED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


def test_signed_url_expiry_is_date_plus_lifetime_minus_margin() -> None:
    assert signed_url_expiry(SIGNED) == SIGNED_AT + 3600 - 60
    assert signed_url_expiry(SIGNED, margin=0) == SIGNED_AT + 3600


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.example/a.png",
        "https://bucket.example/a.png?X-Amz-Date=20260301T120000Z",
        "https://bucket.example/a.png?X-Amz-Date=yesterday&X-Amz-Expires=60",
        "https://bucket.example/a.png?X-Amz-Date=20260301T120000Z&X-Amz-Expires=soon",
    ],
)
def test_urls_without_a_readable_expiry_have_none(url: str) -> None:
    assert signed_url_expiry(url) is None


def test_cache_returns_the_attachment_until_shortly_before_expiry() -> None:
    now = [SIGNED_AT + 10]
    cache = UploadCache(clock=lambda: now[0])
    stored = cache.put("d1", key="uploads/abc.png", url=SIGNED, content_type="image/png")
    assert stored == Attachment("uploads/abc.png", SIGNED, "image/png", SIGNED_AT + 3540)
    assert cache.get("d1") == stored
    assert cache.get("other") is None
    now[0] = SIGNED_AT + 3540
    assert cache.get("d1") is None
    assert len(cache) == 0


def test_cache_does_not_keep_urls_of_unknown_or_past_expiry() -> None:
    cache = UploadCache(clock=lambda: SIGNED_AT + 7200)
    expired = cache.put("d1", key="k", url=SIGNED, content_type="image/png")
    unknown = cache.put("d2", key="k2", url="https://bucket.example/k2", content_type="image/gif")
    assert expired.url == SIGNED and unknown.expires_at is None
    assert cache.get("d1") is None and cache.get("d2") is None


def test_cache_forgets_the_oldest_entries_past_its_size() -> None:
    cache = UploadCache(max_entries=2, clock=lambda: SIGNED_AT)
    for digest in ("a", "b", "c"):
        cache.put(digest, key=digest, url=SIGNED, content_type="image/png")
    assert [cache.get(d) is not None for d in ("a", "b", "c")] == [False, True, True]


def test_attachment_entry_is_what_the_site_expects() -> None:
    attachment = Attachment("uploads/abc.png", SIGNED, "image/png", None)
    assert attachment.attachment() == {
        "name": "uploads/abc.png",
        "contentType": "image/png",
        "url": SIGNED,
    }
    assert attachment.attachment("image/webp")["contentType"] == "image/webp"


def test_decode_data_uri_is_usable_on_its_own() -> None:
    assert decode_data_uri("data:image/png;base64," + base64.b64encode(PNG).decode()) == PNG
    with pytest.raises(InputError, match="the generated image is not base64"):
        decode_data_uri("data:text/plain,hi", label="the generated image")


def test_image_digest_is_sha256_of_the_bytes() -> None:
    image = ImageInput(b"abc", "image/png", "a.png")
    assert image.digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
