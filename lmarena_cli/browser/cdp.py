"""Talking to one launched Chromium over CDP (through nodriver): commands, page evaluation, cookies.

Every wait is bounded and watches the process: if Chromium dies mid-call the caller gets
:class:`~lmarena_cli.errors.BrowserUnavailable` at once instead of waiting out the timeout.

Headless Chromium announces itself (``HeadlessChrome`` in the User-Agent); the real User-Agent and
client hints of the same browser are read from the browser itself and set on the page before the
site is loaded, so a headless run looks like the headful Chrome of the same version.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Generator, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from ..errors import (
    BrowserUnavailable,
    CdpError,
    ConnectionLost,
    LmArenaError,
    PageError,
    TimedOut,
    UpstreamUnavailable,
)
from .chromium import Launched, finish, wait_exit

_CLIENT_HINTS_JS = """navigator.userAgentData ? navigator.userAgentData.getHighEntropyValues(
  ["architecture", "bitness", "fullVersionList", "model", "platformVersion", "wow64",
   "formFactors"]) : null"""


def js(value: Any) -> str:
    """``value`` as a JavaScript literal, to splice into an expression."""
    return orjson.dumps(value).decode()


def command(method: str, **params: Any) -> Generator[dict[str, Any], Any, Any]:
    """A raw CDP command for nodriver's ``send``: the reply comes back as plain JSON."""
    reply = yield {"method": method, "params": params}
    return reply


async def _disconnect(driver: Any) -> None:
    """Close nodriver's websockets without letting it touch the process (that is ours)."""
    import nodriver

    for connection in [*getattr(driver, "_targets", []), driver]:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.aclose(), 2.0)
    with contextlib.suppress(Exception):
        nodriver.core.util.get_registered_instances().discard(driver)


def _client_hints_metadata(hints: Any, user_agent: str) -> dict[str, Any]:
    """CDP ``UserAgentMetadata`` from ``getHighEntropyValues``, with any "Headless" brand fixed."""
    data = hints if isinstance(hints, dict) else {}

    def brands(key: str) -> list[dict[str, str]]:
        rows = data.get(key) or []
        return [
            {
                "brand": str(b.get("brand", "")).replace("HeadlessChrome", "Chromium"),
                "version": str(b.get("version", "")),
            }
            for b in rows
            if isinstance(b, dict)
        ]

    metadata: dict[str, Any] = {
        "brands": brands("brands"),
        "fullVersionList": brands("fullVersionList"),
        "platform": str(data.get("platform") or _platform_name(user_agent)),
        "platformVersion": str(data.get("platformVersion") or ""),
        "architecture": str(data.get("architecture") or ""),
        "model": str(data.get("model") or ""),
        "mobile": bool(data.get("mobile", False)),
        "bitness": str(data.get("bitness") or ""),
        "wow64": bool(data.get("wow64", False)),
    }
    if isinstance(data.get("formFactors"), list):
        metadata["formFactors"] = [str(f) for f in data["formFactors"]]
    return metadata


def _platform_name(user_agent: str) -> str:
    for marker, name in (("Windows", "Windows"), ("Mac OS", "macOS"), ("Android", "Android")):
        if marker in user_agent:
            return name
    return "Linux"


def cookie_map(cookies: Iterable[dict[str, Any]]) -> dict[str, str]:
    """name -> value; when a name is held twice, the first (most specific, as sent) wins."""
    result: dict[str, str] = {}
    for cookie in cookies:
        name, value = cookie.get("name"), cookie.get("value")
        if isinstance(name, str) and isinstance(value, str) and name not in result:
            result[name] = value
    return result


def cookie_params(
    records: Iterable[dict[str, Any]], cookies: Mapping[str, str], base_url: str
) -> list[dict[str, Any]]:
    """CDP ``CookieParam`` objects for cached cookies: the full CDP ``records`` when we have
    them, then the bare ``cookies`` (name -> value) that no record covers."""
    now = time.time()
    params: list[dict[str, Any]] = []
    recorded: set[str] = set()
    for record in records:
        name, value = record.get("name"), record.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        expires = record.get("expires")
        if record.get("session") or not isinstance(expires, int | float) or expires <= 0:
            expires = None
        elif expires < now:
            continue
        param: dict[str, Any] = {"name": name, "value": value}
        for key in ("domain", "path", "secure", "httpOnly", "sameSite"):
            if record.get(key) not in (None, ""):
                param[key] = record[key]
        if "domain" not in param:
            param["url"] = base_url + "/"
        if expires is not None:
            param["expires"] = expires
        params.append(param)
        recorded.add(name)
    for name, value in cookies.items():
        if name not in recorded:
            params.append({"name": name, "value": value, "url": base_url + "/"})
    return params


class Connection:
    """nodriver's CDP connection to one launched Chromium, and the tab it drives.

    ``load_timeout`` bounds a page navigation. After :meth:`close` every call fails with
    BrowserUnavailable.
    """

    def __init__(self, launched: Launched, *, load_timeout: float) -> None:
        self.launched: Launched | None = launched
        self.driver: Any = None
        self.tab: Any = None
        self.load_timeout = load_timeout
        #: The User-Agent the page sends (the headful one when disguised); None before connect.
        self.user_agent: str | None = None

    @property
    def alive(self) -> bool:
        return self.launched is not None and self.launched.alive()

    async def connect(self, port: int, exe: str, user_data_dir: Path) -> None:
        """Attach nodriver to Chromium's DevTools ``port`` and pick its page tab."""
        import nodriver

        config = nodriver.Config(
            user_data_dir=str(user_data_dir),
            browser_executable_path=exe,
            host="127.0.0.1",
            port=port,
        )
        try:
            driver = await self.guard(
                nodriver.Browser.create(config), what="connecting to Chromium", timeout=15
            )
        except LmArenaError:
            raise
        except Exception as exc:
            raise BrowserUnavailable(f"could not connect to Chromium: {exc}") from None
        self.driver = driver
        deadline = time.monotonic() + 10
        while True:
            pages = [t for t in driver.targets if getattr(t.target, "type_", "") == "page"]
            if pages:
                self.tab = pages[0]
                return
            if time.monotonic() > deadline:
                raise BrowserUnavailable("Chromium started without a page to use")
            await asyncio.sleep(0.1)
            await self.guard(driver.update_targets(), what="listing Chromium's tabs", timeout=5)

    async def disguise_headless(self) -> None:
        """Give a headless browser the User-Agent and client hints of its headful self."""
        version = await self.send(command("Browser.getVersion"), what="reading the version")
        user_agent = str(version.get("userAgent", ""))
        if "Headless" not in user_agent:
            self.user_agent = user_agent
            return
        user_agent = user_agent.replace("HeadlessChrome", "Chrome")
        # chrome://version is a secure context that needs no network: the browser's own client
        # hints can be read there before any site is loaded.
        await self.navigate("chrome://version")
        hints = await self.poll_evaluate(_CLIENT_HINTS_JS, what="reading the client hints", wait=10)
        metadata = _client_hints_metadata(hints, user_agent)
        await self.send(
            command(
                "Network.setUserAgentOverride", userAgent=user_agent, userAgentMetadata=metadata
            ),
            what="setting the User-Agent",
        )
        self.user_agent = user_agent

    # -- commands --------------------------------------------------------------------------------

    async def navigate(self, url: str) -> None:
        """Load ``url`` in the tab (``Page.navigate``: returns once the navigation commits)."""
        reply = await self.send(
            command("Page.navigate", url=url), what=f"loading {url}", timeout=self.load_timeout
        )
        error = reply.get("errorText") if isinstance(reply, dict) else None
        if error:
            raise UpstreamUnavailable(f"the browser could not load {url}: {error}")

    async def poll_evaluate(self, expression: str, *, what: str, wait: float) -> Any:
        """Evaluate until the page answers something (it may still be loading)."""
        deadline = time.monotonic() + wait
        while True:
            with contextlib.suppress(PageError):
                value = await self.evaluate(expression, what=what, await_promise=True, timeout=5)
                if value:
                    return value
            if time.monotonic() > deadline:
                raise BrowserUnavailable(f"Chromium gave no answer while {what}")
            await asyncio.sleep(0.1)

    async def evaluate(
        self,
        expression: str,
        *,
        what: str,
        timeout: float = 30.0,
        await_promise: bool = False,
    ) -> Any:
        """``Runtime.evaluate`` in the page's main world; the value, or PageError."""
        try:
            reply = await self.send(
                command(
                    "Runtime.evaluate",
                    expression=expression,
                    returnByValue=True,
                    awaitPromise=await_promise,
                    userGesture=True,
                    allowUnsafeEvalBlockedByCSP=True,
                ),
                what=what,
                timeout=timeout,
            )
        except CdpError as exc:
            raise PageError(str(exc)) from None
        details = reply.get("exceptionDetails")
        if details:
            exception = details.get("exception") or {}
            raise PageError(
                str(exception.get("description") or exception.get("value") or details.get("text"))
            )
        return (reply.get("result") or {}).get("value")

    async def send(
        self, request: Generator[dict[str, Any], Any, Any], *, what: str, timeout: float = 30.0
    ) -> Any:
        """Send a CDP command (see :func:`command`); its reply, or BrowserUnavailable if refused."""
        import nodriver

        if self.tab is None:
            raise BrowserUnavailable(f"Chromium is not running (while {what})")
        try:
            return await self.guard(self.tab.send(request), what=what, timeout=timeout)
        except nodriver.ProtocolException as exc:
            raise CdpError(str(exc)) from None

    async def guard(self, awaitable: Any, *, what: str, timeout: float) -> Any:
        """Await ``awaitable`` for at most ``timeout`` s, failing at once if Chromium dies."""
        task = asyncio.ensure_future(awaitable)
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                done, _ = await asyncio.wait({task}, timeout=max(0.0, min(0.25, remaining)))
                if task in done:
                    try:
                        return self._result(task)
                    except ConnectionLost as exc:
                        raise await self._connection_lost(what, str(exc)) from None
                launched = self.launched
                if launched is None or launched.proc.poll() is not None:
                    code = launched.proc.poll() if launched else None
                    raise BrowserUnavailable(f"Chromium exited (status {code}) while {what}")
                if remaining <= 0:
                    raise TimedOut(f"Chromium did not finish {what} within {timeout:.0f} s")
        finally:
            if not task.done():
                task.cancel()
                # asyncio.wait never raises the task's error, and lets our own cancellation through.
                await asyncio.wait({task}, timeout=1.0)

    def _result(self, task: asyncio.Future[Any]) -> Any:
        import nodriver

        try:
            return task.result()
        except nodriver.ProtocolException:
            raise
        except (ConnectionError, RuntimeError, OSError) as exc:
            raise ConnectionLost(str(exc)) from None
        except Exception as exc:
            if type(exc).__module__.startswith("websockets"):
                raise ConnectionLost(type(exc).__name__) from None
            raise

    async def _connection_lost(self, what: str, reason: str) -> BrowserUnavailable:
        """The error for a dropped CDP connection; the browser is relaunched on the next call."""
        launched = self.launched
        if launched is None:
            return BrowserUnavailable(f"Chromium was closed while {what}")
        launched.broken = True
        await wait_exit(launched, 1.0)
        code = launched.proc.poll()
        if code is None:
            return BrowserUnavailable(f"Chromium dropped its connection while {what} ({reason})")
        return BrowserUnavailable(f"Chromium exited (status {code}) while {what}")

    # -- shutting down -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Close Chromium (cleanly if it still answers), drop the connection, reap the process."""
        launched, driver = self.launched, self.driver
        self.launched, self.driver, self.tab = None, None, None
        if driver is not None and launched is not None and launched.alive():
            with contextlib.suppress(Exception):
                # A clean close lets Chromium write its cookies to the profile.
                await asyncio.wait_for(driver.send(command("Browser.close")), 2.0)
            await wait_exit(launched, 3.0)
        if driver is not None:
            await _disconnect(driver)
        if launched is not None:
            await asyncio.to_thread(finish, launched, 1.0)


__all__ = [
    "Connection",
    "command",
    "cookie_map",
    "cookie_params",
    "js",
]
