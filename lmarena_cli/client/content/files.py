"""Files given to a model become text: the site takes images, not documents.

A PDF becomes the text of its pages (``pypdf``: at most :data:`MAX_PDF_PAGES` pages and
:data:`MAX_PDF_CHARS` characters, ``[truncated]`` saying where it was cut); a UTF-8 text file is
inlined as it is. Each becomes one block headed with the file's name::

    [File: report.pdf]
    ...the text...
    [End of file: report.pdf]

and :func:`with_files` puts the blocks before the prompt (context first, instruction last). A file
that is neither (an image, an archive), an encrypted PDF or one that cannot be read is an
:class:`~lmarena_cli.errors.InputError` naming it. The prompt budget
(``LM_ARENA_MAX_PROMPT_CHARS``) applies to the prompt with its files.

``lmarena ask -a/--attach FILE`` reads files with :func:`read_file`; ``lmarena serve`` decodes a
``file`` content part's ``data:`` URI with :func:`decode_data_uri` and calls :func:`file_text`.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import mimetypes
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from ...errors import InputError

#: The most pages of one PDF whose text is taken.
MAX_PDF_PAGES = 50
#: The most characters of one PDF's text (a little under the prompt budget's default: a PDF
#: cut here still leaves room for the question).
MAX_PDF_CHARS = 40_000
#: The largest file read at all (a PDF's size says little of its text; this bounds the work).
MAX_FILE_BYTES = 32 * 1024 * 1024
#: What marks a cut PDF text.
TRUNCATED = "[truncated]"
PDF_MIME = "application/pdf"


def file_text(name: str, data: bytes, mime: str | None = None) -> str:
    """The block of text a model is given for the file ``name`` (see the module doc).

    ``mime`` is the type the sender named, if any; a PDF is also known by its first bytes or
    its name. Anything that is neither a PDF nor UTF-8 text is an :class:`InputError`.
    """
    body = pdf_text(name, data) if _is_pdf(name, data, mime) else _plain_text(name, data, mime)
    return f"[File: {name}]\n{body.rstrip()}\n[End of file: {name}]"


def with_files(prompt: str, blocks: Sequence[str]) -> str:
    """The file blocks, then the prompt, a blank line between each."""
    return "\n\n".join([*blocks, prompt] if prompt.strip() else blocks)


def pdf_text(name: str, data: bytes) -> str:
    """The text of a PDF's pages, each after the last with a blank line, capped (module doc)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # an empty user password opens many
            raise InputError(f"{name} is an encrypted PDF: save a copy without a password")
        pages = reader.pages
        total = len(pages)
        texts: list[str] = []
        size = 0
        for page in list(pages)[:MAX_PDF_PAGES]:
            text = (page.extract_text() or "").strip()
            texts.append(text)
            size += len(text) + 2
            if size >= MAX_PDF_CHARS:
                break
    except InputError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a damaged file
        reason = str(exc) or type(exc).__name__
        raise InputError(f"{name} could not be read as a PDF: {reason}") from None
    joined = "\n\n".join(text for text in texts if text)
    if not joined:
        raise InputError(f"{name} is a PDF without text (scanned pages?): nothing to give a model")
    if len(joined) > MAX_PDF_CHARS or len(texts) < total:
        return f"{joined[:MAX_PDF_CHARS].rstrip()}\n{TRUNCATED}"
    return joined


def read_file(path: str | Path) -> str:
    """The block of text of the file at ``path`` (:func:`file_text`, its type guessed from its
    name); a file that is missing, unreadable or too large is an :class:`InputError`."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path} is over {MAX_FILE_BYTES // (1024 * 1024)} MiB: too large to read")
    return file_text(path.name, data, mimetypes.guess_type(path.name)[0])


def decode_data_uri(uri: str, *, label: str = "the data: URI") -> tuple[str, bytes]:
    """The media type and bytes of a ``data:`` URI, base64 or percent-encoded (RFC 2397).

    The type defaults to ``text/plain``; its parameters (``;charset=...``) are dropped. A URI
    that is not one, or whose base64 is broken, is an :class:`InputError` naming ``label``.
    """
    if uri[:5].lower() != "data:":
        raise InputError(f"{label} is not a data: URI")
    header, comma, payload = uri[5:].partition(",")
    if not comma:
        raise InputError(f"{label} has no ',' before its data")
    params = [part.strip() for part in header.split(";")]
    encoded = len(params) > 1 and params[-1].lower() == "base64"
    mime = params[0].lower() or "text/plain"
    if "/" not in mime:
        raise InputError(f"{label} names no media type (type/subtype) but {params[0]!r}")
    if not encoded:
        return mime, urllib.parse.unquote_to_bytes(payload)
    payload = "".join(urllib.parse.unquote(payload).split())
    if len(payload) * 3 // 4 > MAX_FILE_BYTES + 3:
        raise InputError(f"{label} is over {MAX_FILE_BYTES // (1024 * 1024)} MiB: too large")
    try:
        return mime, base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{label} is not valid base64") from None


def _is_pdf(name: str, data: bytes, mime: str | None) -> bool:
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return True
    return (mime or "").lower() == PDF_MIME or name.lower().endswith(".pdf")


def _plain_text(name: str, data: bytes, mime: str | None) -> str:
    kind = mime or mimetypes.guess_type(name)[0] or "binary data"
    if b"\x00" in data[:8192]:
        raise InputError(f"{name} is not a text file or a PDF ({kind}): it cannot be given as text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            f"{name} is not UTF-8 text or a PDF ({kind}): it cannot be given as text"
        ) from None


# pypdf says on its logger what it repaired in a damaged file: not the user's business.
logging.getLogger("pypdf").setLevel(logging.ERROR)

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_PDF_CHARS",
    "MAX_PDF_PAGES",
    "TRUNCATED",
    "decode_data_uri",
    "file_text",
    "pdf_text",
    "read_file",
    "with_files",
]
