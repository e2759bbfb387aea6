"""An S3/R2-like object store with presigned URLs (protocol doc §6.4, §11.1).

The site's uploads go to Cloudflare R2 through presigned URLs; clients parse ``X-Amz-Date``
(``%Y%m%dT%H%M%SZ``) and ``X-Amz-Expires`` to know when a link dies. The fake serves the bucket
under ``/r2/<bucket>/<key>`` on its own origin (outside the Cloudflare gate, since R2 is another
host) and checks an HMAC signature over method, path, date and expiry.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.helpers.images import png

from .facts import STORAGE_PREFIX as PREFIX

_ACCESS_KEY = "FAKER2ACCESSKEY0000"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass
class StoredObject:
    data: bytes
    content_type: str


class ObjectStore:
    """Objects plus signing of the URLs that reach them."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self._secret = secrets.token_bytes(32)

    def _signature(self, method: str, path: str, date: str, expires: int) -> str:
        msg = f"{method}\n{path}\n{date}\n{expires}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def presign(self, origin: str, method: str, key: str, expires: int) -> str:
        """A presigned URL for ``method`` on ``key`` valid ``expires`` seconds from now."""
        path = PREFIX + quote(key)
        date = time.strftime(_DATE_FORMAT, time.gmtime())
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
            "X-Amz-Credential": f"{_ACCESS_KEY}/{date[:8]}/auto/s3/aws4_request",
            "X-Amz-Date": date,
            "X-Amz-Expires": str(expires),
            "X-Amz-Signature": self._signature(method, path, date, expires),
            "X-Amz-SignedHeaders": "host",
        }
        if method == "PUT":
            query["x-id"] = "PutObject"
        elif method == "GET":
            query["x-id"] = "GetObject"
        return f"{origin}{path}?{urlencode(query)}"

    def check(self, method: str, raw_path: str, query: dict[str, str]) -> str | None:
        """None if the signed request is valid, else an S3 error code."""
        try:
            date = query["X-Amz-Date"]
            expires = int(query["X-Amz-Expires"])
            signature = query["X-Amz-Signature"]
            signed_at = calendar.timegm(time.strptime(date, _DATE_FORMAT))
        except (KeyError, ValueError):
            return "AuthorizationQueryParametersError"
        expected = self._signature(method, raw_path, date, expires)
        if not hmac.compare_digest(expected, signature):
            return "SignatureDoesNotMatch"
        if time.time() > signed_at + expires:
            return "AccessDenied"
        return None

    def check_url(self, url: str, origin: str) -> str | None:
        """The object key if ``url`` is a valid signed GET of an existing object, else None."""
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != origin or not parts.path.startswith(PREFIX):
            return None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if self.check("GET", parts.path, query) is not None:
            return None
        key = unquote(parts.path[len(PREFIX) :])
        return key if key in self.objects else None


def s3_error_xml(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()


def make_png(width: int = 64, height: int = 64, rgb: tuple[int, int, int] = (90, 60, 200)) -> bytes:
    """A valid solid-colour PNG (what the fake's image models "generate")."""
    return png(width, height, rgb)
