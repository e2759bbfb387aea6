"""The address guard: decisions tested with a fake resolver, fetches only against loopback servers.

No test here sends a packet to a non-loopback address: made-up ``.test`` hostnames resolve
through :class:`FakeResolver`, and a tripwire fails any test whose connection would leave the
loopback interface (it would mean the guard let something through).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohappyeyeballs
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from lmarena_cli.client.transport import netguard
from lmarena_cli.client.transport.netguard import GuardResolver, check_url, fetch_url, format_size
from lmarena_cli.errors import InputError, TimedOut
from tests.helpers.servers import Handler, loopback_server

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

NAMES = {
    "metadata.test": ["169.254.169.254"],
    "metadata6.test": ["fd00:ec2::254"],
    "intranet.test": ["10.1.2.3"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "public.test": ["93.184.216.34"],
    "mixed.test": ["93.184.216.34", "192.168.1.20"],
    "shared.test": ["100.64.12.1"],
    "linklocal.test": ["169.254.10.10"],
    "multicast.test": ["224.0.0.251"],
    "zero.test": ["0.0.0.0"],
    "nat64.test": ["64:ff9b::a01:203"],
    "loopback.test": ["127.0.0.1"],
    "proxy.test": ["127.0.0.1"],
}


class FakeResolver(AbstractResolver):
    """Resolves the made-up names above and records every lookup."""

    def __init__(self, names: dict[str, list[str]] | None = None) -> None:
        self.names = NAMES if names is None else names
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for address in self.names[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any connection to a non-loopback address, and drop proxies from the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    connected: list[str] = []
    real = aiohappyeyeballs.start_connection

    async def guarded(addr_infos: Any, *args: Any, **kwargs: Any) -> socket.socket:
        for info in addr_infos:
            address = ipaddress.ip_address(info[4][0])
            assert address.is_loopback, f"the test tried to connect to {address}"
            connected.append(str(address))
        return await real(addr_infos, *args, **kwargs)

    monkeypatch.setattr(aiohappyeyeballs, "start_connection", guarded)
    return connected


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[dict[str, Handler]], Awaitable[str]]]:
    """Start a loopback server with the given routes; returns its base URL."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(routes: dict[str, Handler]) -> str:
            return await stack.enter_async_context(loopback_server(routes))

        yield start


async def png(_request: web.Request) -> web.Response:
    return web.Response(body=PNG, content_type="image/png")


# --- decisions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("intranet.test", "10.1.2.3 is a private address"),
        ("mapped.test", "::ffff:7f00:1 is a loopback address (IPv6 form of 127.0.0.1)"),
        ("mixed.test", "192.168.1.20 is a private address"),
        ("shared.test", "100.64.12.1 is a shared address"),
        ("linklocal.test", "169.254.10.10 is a link-local address"),
        ("multicast.test", "224.0.0.251 is a multicast address"),
        ("zero.test", "0.0.0.0 is an unspecified address"),
        ("nat64.test", "64:ff9b::a01:203 is a private address (IPv6 form of 10.1.2.3)"),
    ],
)
async def test_hosts_resolving_to_non_public_addresses_are_refused(
    host: str, expected: str
) -> None:
    url = f"http://{host}/cat.png"
    with pytest.raises(InputError) as caught:
        await check_url(url, allow_private=False, resolver=FakeResolver())
    assert str(caught.value) == (
        f"refusing to fetch {url}: {expected}; set LM_ARENA_ALLOW_PRIVATE_URLS=1 to allow it"
    )


async def test_loopback_literal_is_refused_with_the_documented_message() -> None:
    with pytest.raises(InputError) as caught:
        await check_url("http://127.0.0.1/x", allow_private=False)
    assert str(caught.value) == (
        "refusing to fetch http://127.0.0.1/x: 127.0.0.1 is a loopback address; "
        "set LM_ARENA_ALLOW_PRIVATE_URLS=1 to allow it"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "url",
    ["http://[::1]:8080/", "https://10.0.0.1/", "http://[::ffff:192.168.0.1]/", "http://0.0.0.0/"],
)
async def test_literal_private_addresses_are_refused_without_a_lookup(url: str) -> None:
    resolver = FakeResolver()
    with pytest.raises(InputError, match="LM_ARENA_ALLOW_PRIVATE_URLS=1"):
        await check_url(url, allow_private=False, resolver=resolver)
    assert resolver.lookups == []


@pytest.mark.parametrize(
    "url",
    ["http://metadata.test/latest/meta-data/", "http://metadata6.test/", "http://169.254.169.254/"],
)
async def test_metadata_addresses_are_refused_even_when_private_ones_are_allowed(url: str) -> None:
    with pytest.raises(InputError) as caught:
        await check_url(url, allow_private=True, resolver=FakeResolver())
    assert "is a cloud metadata address" in str(caught.value)
    assert "LM_ARENA_ALLOW_PRIVATE_URLS" not in str(caught.value)


async def test_metadata_address_in_mapped_form_is_refused() -> None:
    with pytest.raises(InputError, match="cloud metadata address"):
        await check_url("http://[::ffff:169.254.169.254]/", allow_private=True)


async def test_public_address_is_allowed_and_returned() -> None:
    result = await check_url(
        "https://public.test/a.png", allow_private=False, resolver=FakeResolver()
    )
    assert result == [ipaddress.ip_address("93.184.216.34")]


async def test_private_address_is_allowed_when_the_user_says_so() -> None:
    result = await check_url("http://intranet.test/", allow_private=True, resolver=FakeResolver())
    assert result == [ipaddress.ip_address("10.1.2.3")]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("file:///etc/passwd", "not file:"),
        ("ftp://public.test/a.png", "not ftp:"),
        ("gopher://public.test/", "not gopher:"),
        ("public.test/a.png", "not no scheme"),
        ("http:///a.png", "names no host"),
    ],
)
async def test_urls_that_are_not_http_are_refused(url: str, said: str) -> None:
    resolver = FakeResolver()
    with pytest.raises(InputError) as caught:
        await check_url(url, allow_private=True, resolver=resolver)
    assert said in str(caught.value)
    assert resolver.lookups == []


async def test_unknown_host_says_it_cannot_be_resolved() -> None:
    with pytest.raises(InputError, match=r"cannot resolve nowhere\.test"):
        await check_url("http://nowhere.test/", allow_private=False, resolver=FakeResolver())


async def test_guard_resolver_refuses_when_any_address_is_private() -> None:
    guard = GuardResolver(allow_private=False, inner=FakeResolver(), url="http://mixed.test/")
    with pytest.raises(InputError, match=re.escape("192.168.1.20 is a private address")):
        await guard.resolve("mixed.test", 80)


# --- real fetches from loopback servers -----------------------------------------------------------


async def test_fetch_returns_body_and_type_from_a_loopback_server_when_allowed(serve: Any) -> None:
    base = await serve({"/cat.png": png})
    body, content_type = await fetch_url(
        f"{base}/cat.png", allow_private=True, max_bytes=1000, timeout=5
    )
    assert body == PNG
    assert content_type == "image/png"


async def test_fetch_refuses_loopback_without_sending_a_request(
    serve: Any, loopback_only: list[str]
) -> None:
    hits: list[str] = []

    async def counted(request: web.Request) -> web.Response:
        hits.append(request.path)
        return await png(request)

    base = await serve({"/cat.png": counted})
    with pytest.raises(InputError, match=re.escape("127.0.0.1 is a loopback address")):
        await fetch_url(f"{base}/cat.png", allow_private=False, max_bytes=1000, timeout=5)
    assert hits == []
    assert loopback_only == []


async def test_fetch_connects_to_the_address_the_guard_vetted(serve: Any) -> None:
    base = await serve({"/cat.png": png})
    port = base.rsplit(":", 1)[1]
    resolver = FakeResolver()
    body, _ = await fetch_url(
        f"http://loopback.test:{port}/cat.png",
        allow_private=True,
        max_bytes=1000,
        timeout=5,
        resolver=resolver,
    )
    assert body == PNG
    # One lookup, done by the connector itself: no second answer to rebind to.
    assert resolver.lookups == ["loopback.test"]


async def test_fetch_refuses_a_hostname_resolving_to_loopback(serve: Any) -> None:
    base = await serve({"/cat.png": png})
    port = base.rsplit(":", 1)[1]
    with pytest.raises(InputError, match=re.escape("127.0.0.1 is a loopback address")):
        await fetch_url(
            f"http://loopback.test:{port}/cat.png",
            allow_private=False,
            max_bytes=1000,
            timeout=5,
            resolver=FakeResolver(),
        )


async def test_redirect_to_metadata_host_is_refused_before_connecting(
    serve: Any, loopback_only: list[str]
) -> None:
    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPFound("http://metadata.test/latest/meta-data/iam")

    base = await serve({"/img": redirect})
    resolver = FakeResolver()
    with pytest.raises(InputError) as caught:
        await fetch_url(
            f"{base}/img", allow_private=True, max_bytes=1000, timeout=5, resolver=resolver
        )
    assert str(caught.value) == (
        "refusing to fetch http://metadata.test/latest/meta-data/iam: "
        "169.254.169.254 is a cloud metadata address"
    )
    assert resolver.lookups == ["metadata.test"]
    assert loopback_only == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("http://169.254.169.254/latest", "cloud metadata address"),
        ("file:///etc/passwd", "not file:"),
    ],
)
async def test_redirect_to_literal_metadata_or_file_url_is_refused(
    serve: Any, target: str, said: str
) -> None:
    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    base = await serve({"/img": redirect})
    with pytest.raises(InputError, match=said):
        await fetch_url(f"{base}/img", allow_private=True, max_bytes=1000, timeout=5)


async def test_relative_redirect_is_followed(serve: Any) -> None:
    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/cat.png")

    base = await serve({"/old": redirect, "/cat.png": png})
    body, _ = await fetch_url(f"{base}/old", allow_private=True, max_bytes=1000, timeout=5)
    assert body == PNG


async def test_more_than_five_redirects_are_refused(serve: Any) -> None:
    hops: list[int] = []

    async def loop(request: web.Request) -> web.Response:
        hops.append(int(request.match_info["n"]))
        raise web.HTTPFound(f"/r/{len(hops)}")

    base = await serve({"/r/{n}": loop})
    with pytest.raises(InputError, match="more than 5 redirects"):
        await fetch_url(f"{base}/r/0", allow_private=True, max_bytes=1000, timeout=5)
    assert len(hops) == 6


async def test_declared_oversize_body_is_refused(serve: Any) -> None:
    async def big(_request: web.Request) -> web.Response:
        return web.Response(body=b"\0" * 5000, content_type="image/png")

    base = await serve({"/big": big})
    with pytest.raises(InputError) as caught:
        await fetch_url(f"{base}/big", allow_private=True, max_bytes=2048, timeout=5)
    assert str(caught.value) == f"refusing {base}/big: it is 4.9 KiB; the limit is 2 KiB"


async def test_endless_body_is_cut_at_the_cap_without_reading_it_all(serve: Any) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        while True:  # until the client hangs up
            await response.write(b"\0" * 65536)

    base = await serve({"/endless": endless})
    with pytest.raises(InputError, match=r"it is more than 1 MiB; the limit is 1 MiB"):
        await fetch_url(f"{base}/endless", allow_private=True, max_bytes=1024 * 1024, timeout=10)


async def test_slow_server_times_out(serve: Any) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(body=PNG)

    base = await serve({"/slow": slow})
    with pytest.raises(TimedOut, match=r"took more than 0\.3 s"):
        await fetch_url(f"{base}/slow", allow_private=True, max_bytes=1000, timeout=0.3)


async def test_html_answer_is_refused_when_an_image_was_expected(serve: Any) -> None:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    base = await serve({"/page": page})
    with pytest.raises(InputError, match=r"expected image/\* but it is text/html"):
        await fetch_url(f"{base}/page", allow_private=True, max_bytes=1000, timeout=5)


async def test_error_status_is_reported(serve: Any) -> None:
    base = await serve({"/x": png})
    with pytest.raises(InputError, match="the server answered 404"):
        await fetch_url(f"{base}/missing", allow_private=True, max_bytes=1000, timeout=5)


async def test_through_a_proxy_the_target_host_is_still_checked(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append(f"{request.host}{request.path}")
        return await png(request)

    base = await serve({"/{tail:.*}": proxy})
    port = base.rsplit(":", 1)[1]
    # The proxy itself sits on loopback (as local proxies do) and is not vetted.
    monkeypatch.setenv("HTTP_PROXY", f"http://proxy.test:{port}")
    resolver = FakeResolver()
    with pytest.raises(InputError, match=re.escape("10.1.2.3 is a private address")):
        await fetch_url(
            "http://intranet.test/a.png",
            allow_private=False,
            max_bytes=1000,
            timeout=5,
            resolver=resolver,
        )
    assert seen == []
    body, _ = await fetch_url(
        "http://public.test/a.png",
        allow_private=False,
        max_bytes=1000,
        timeout=5,
        resolver=resolver,
    )
    assert body == PNG
    assert seen == ["public.test/a.png"]


def test_sizes_are_written_for_people() -> None:
    assert [format_size(n) for n in (512, 2048, 10 * 1024 * 1024, 1536 * 1024)] == [
        "512 bytes",
        "2 KiB",
        "10 MiB",
        "1.5 MiB",
    ]


def test_module_names_the_variable_users_set() -> None:
    assert netguard.ALLOW_PRIVATE_VARIABLE == "LM_ARENA_ALLOW_PRIVATE_URLS"
