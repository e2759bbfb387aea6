"""The address guard for URLs fetched on a user's behalf.

``lmarena serve`` fetches the http(s) ``image_url`` of OpenAI requests, and the CLI fetches
``--image URL``. Left unguarded, that turns the tool into a proxy into the user's own network
(routers, admin panels, the cloud metadata service). The policy:

* only ``http`` and ``https``;
* every address the host resolves to is classified, and the URL is refused when ANY of them is
  loopback, private, link-local, multicast, reserved, unspecified, shared (100.64.0.0/10) or
  otherwise not globally routable, IPv4-mapped/6to4/NAT64 forms included, unless
  ``allow_private`` (``LM_ARENA_ALLOW_PRIVATE_URLS=1``) is set;
* the cloud metadata addresses (169.254.169.254, fd00:ec2::254) are refused even then: no image
  lives there, only credentials.

There is no gap between checking and connecting (DNS rebinding): :class:`GuardResolver` is the
resolver of the aiohttp connector, so the addresses it vets are the only ones aiohttp connects
to, and redirects are followed by hand so that every hop is checked (literal-IP hops, which
aiohttp never passes to a resolver, are classified before the request).

Proxies (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``, as :func:`.proxy.proxy_for` decides): the
connection then goes to the proxy, which the user chose and which may well sit on a private
address, so the proxy's own address is not checked. The target host is still resolved here and
checked before each hop; the proxy resolves it again itself, so through a proxy the guard cannot
rule out DNS rebinding. Use ``NO_PROXY`` for hosts that must be fetched directly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from ...errors import ErrorKind, InputError, TimedOut
from .proxy import proxy_for

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The variable that lifts the private-address part of the policy.
ALLOW_PRIVATE_VARIABLE = "LM_ARENA_ALLOW_PRIVATE_URLS"
MAX_REDIRECTS = 5
#: Cloud instance metadata endpoints (AWS/GCP/Azure/OpenStack share the IPv4 one; AWS IPv6).
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_METADATA = "a cloud metadata address"
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
#: Content types some servers give images they do not know better about.
_GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})


def classify(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one ("a loopback address", ...), or None when it is.

    An IPv6 address that embeds an IPv4 one (mapped, 6to4, NAT64) is judged by the IPv4 one:
    ``::ffff:127.0.0.1`` reaches the loopback interface just like ``127.0.0.1``.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = classify(embedded)
        return f"{reason} (IPv6 form of {embedded})" if reason else None
    checks = (
        (address in METADATA_ADDRESSES, _METADATA),
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "a shared address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """The reason to refuse ``address`` under the policy, or None when it may be fetched."""
    reason = classify(address)
    if reason is None or (allow_private and not reason.startswith(_METADATA)):
        return None
    return reason


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    embedded = address.ipv4_mapped or address.sixtofour
    if embedded is None and address in _NAT64:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return embedded


class GuardResolver(AbstractResolver):
    """An aiohttp resolver that returns only addresses the policy allows, and refuses the rest.

    It resolves through ``inner`` (default: aiohttp's ``ThreadedResolver``, which is the event
    loop's ``getaddrinfo``) and raises :class:`InputError` when ANY resolved address is refused,
    so an attacker cannot slip a private address in among public ones.
    """

    def __init__(
        self, *, allow_private: bool, inner: AbstractResolver | None = None, url: str = ""
    ) -> None:
        self.allow_private = allow_private
        self.inner = inner if inner is not None else aiohttp.ThreadedResolver()
        #: The URL named in refusals; fetch_url updates it on every hop.
        self.url = url

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        try:
            results = await self.inner.resolve(host, port, family)
        except OSError as exc:
            raise InputError(
                f"cannot fetch {self.url or host}: cannot resolve {host}: {exc.strerror or exc}"
            ) from None
        for result in results:
            _check_address(
                ipaddress.ip_address(result["host"]), self.url or host, self.allow_private
            )
        return results

    async def close(self) -> None:
        await self.inner.close()


async def check_url(
    url: str, *, allow_private: bool, resolver: AbstractResolver | None = None
) -> list[IPAddress]:
    """Check ``url`` against the policy and return the addresses its host resolves to.

    Raises :class:`InputError` naming the URL, the address and why it was refused. Only use the
    result to decide; to fetch, use :func:`fetch_url`, which connects to vetted addresses only.
    """
    parsed = _parse(url)
    host = parsed.host or ""
    literal = _literal(host)
    if literal is not None:
        _check_address(literal, url, allow_private)
        return [literal]
    guard = GuardResolver(allow_private=allow_private, inner=resolver, url=url)
    results = await guard.resolve(host, parsed.port or 0, socket.AF_UNSPEC)
    if not results:
        raise InputError(f"cannot fetch {url}: {host} resolves to no address")
    return [ipaddress.ip_address(result["host"]) for result in results]


async def fetch_url(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int,
    timeout: float,
    accept_prefix: str | None = "image/",
    resolver: AbstractResolver | None = None,
) -> tuple[bytes, str | None]:
    """GET ``url`` under the address policy and return ``(body, content type)``.

    At most :data:`MAX_REDIRECTS` redirects, each hop checked. The body is streamed and refused
    as soon as it passes ``max_bytes`` (or at once when Content-Length says so). ``timeout`` caps
    the whole fetch, redirects included (:class:`~lmarena_cli.errors.TimedOut`). With
    ``accept_prefix``, an answer whose Content-Type is neither that nor a generic binary type
    (an HTML error page, say) is refused. Proxies come from the environment (see the module doc).
    """
    try:
        async with asyncio.timeout(timeout):
            return await _follow(url, allow_private, max_bytes, accept_prefix, resolver)
    except TimeoutError:
        raise TimedOut(f"fetching {url} took more than {timeout:g} s") from None


async def _follow(
    url: str,
    allow_private: bool,
    max_bytes: int,
    accept_prefix: str | None,
    resolver: AbstractResolver | None,
) -> tuple[bytes, str | None]:
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        parsed = _parse(current)
        proxy = proxy_for(parsed)
        if proxy is not None:
            # The connector only reaches the proxy; vet the target with our own lookup.
            await check_url(current, allow_private=allow_private, resolver=resolver)
        else:
            literal = _literal(parsed.host or "")
            if literal is not None:  # aiohttp never hands IP literals to the resolver
                _check_address(literal, current, allow_private)
        guard: AbstractResolver = GuardResolver(
            allow_private=allow_private, inner=resolver, url=current
        )
        if proxy is not None:
            guard = resolver if resolver is not None else aiohttp.ThreadedResolver()
        location = await _get(current, parsed, guard, proxy, max_bytes, accept_prefix)
        if isinstance(location, tuple):
            return location
        current = location
    raise InputError(f"cannot fetch {url}: more than {MAX_REDIRECTS} redirects")


async def _get(
    current: str,
    parsed: URL,
    resolver: AbstractResolver,
    proxy: str | None,
    max_bytes: int,
    accept_prefix: str | None,
) -> tuple[bytes, str | None] | str:
    """One request: the body and type, or the absolute URL a redirect points to."""
    # No DNS cache: every connection goes through the guard. A connector given a resolver
    # does not close it, so a caller's resolver survives for the next hop.
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    try:
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            # The proxy decided above, not one aiohttp would pick again from the environment.
            session.get(parsed, allow_redirects=False, proxy=proxy) as response,
        ):
            if response.status in _REDIRECTS and "Location" in response.headers:
                return str(parsed.join(URL(response.headers["Location"])))
            if response.status >= 400:
                raise InputError(f"cannot fetch {current}: the server answered {response.status}")
            content_type = response.headers.get("Content-Type")
            mime = content_type.split(";")[0].strip().lower() if content_type else None
            if not _acceptable(mime, accept_prefix):
                raise InputError(
                    f"cannot use {current}: expected {accept_prefix}* but it is {mime}"
                )
            return await _read_capped(response, current, max_bytes), mime
    except aiohttp.ClientError as exc:
        raise InputError(f"cannot fetch {current}: {exc}") from None


def _acceptable(mime: str | None, accept_prefix: str | None) -> bool:
    """Whether a Content-Type may hold what the caller wants (absent or generic ones may)."""
    if not accept_prefix or mime is None or mime in _GENERIC_TYPES:
        return True
    return mime.startswith(accept_prefix)


async def _read_capped(response: aiohttp.ClientResponse, url: str, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise InputError(_too_big(url, format_size(declared), max_bytes))
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise InputError(_too_big(url, f"more than {format_size(max_bytes)}", max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(url: str, size: str, max_bytes: int) -> str:
    return f"refusing {url}: it is {size}; the limit is {format_size(max_bytes)}"


def format_size(size: int) -> str:
    """``size`` bytes for people: "512 bytes", "900 KiB", "12.5 MiB"."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def _parse(url: str) -> URL:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise InputError(f"not a valid URL: {url!r}") from None
    if parsed.scheme not in ("http", "https"):
        scheme = f"{parsed.scheme}:" if parsed.scheme else "no scheme"
        raise InputError(f"refusing to fetch {url}: only http and https URLs, not {scheme}")
    if not parsed.host:
        raise InputError(f"refusing to fetch {url}: it names no host")
    return parsed


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _check_address(address: IPAddress, url: str, allow_private: bool) -> None:
    reason = refusal(address, allow_private=allow_private)
    if reason is None:
        return
    message = f"refusing to fetch {url}: {address} is {reason}"
    if not reason.startswith(_METADATA):
        message += f"; set {ALLOW_PRIVATE_VARIABLE}=1 to allow it"
    raise InputError(message, kind=ErrorKind.ADDRESS_REFUSED)
