"""Shared fixtures: every test runs with its own state and config directories, never the user's.

Tests marked ``browser`` drive a real Chromium; the others must never launch one (a tripwire
fails them if they try) and use :class:`tests.fakes.HttpBrowser` instead, through
:func:`client_factory`. ``LM_ARENA_BROWSER_EXECUTABLE_PATH`` set for the test run names the
Chromium to use; set to a path that is no executable (``/nonexistent``) it stands for a machine
without Chromium: the ``browser`` tests are skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers.clients import ClientFactory, settings_for

if TYPE_CHECKING:
    from lmarena_cli.client.client import Client
    from tests.fakes import HttpBrowser


def _find_chromium() -> str | None:
    wanted = os.environ.get("LM_ARENA_BROWSER_EXECUTABLE_PATH")
    if wanted:
        return wanted if os.path.isfile(wanted) and os.access(wanted, os.X_OK) else None
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


#: The executable the ``browser`` tests use (the variable as the run was started), or None.
CHROMIUM_OVERRIDE = os.environ.get("LM_ARENA_BROWSER_EXECUTABLE_PATH") or None
CHROMIUM = _find_chromium()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every directory the tool uses at the test's own tmp_path, and clear LM_ARENA_*."""
    for name in list(os.environ):
        if name.startswith("LM_ARENA_") or name.lower() in ("https_proxy", "http_proxy"):
            monkeypatch.delenv(name)
    state = tmp_path / "state"
    monkeypatch.setenv("LM_ARENA_STATE_DIR", str(state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("LM_ARENA_BROWSER_HEADLESS", "1")
    # No kept server (`lmarena server`): commands run in-process, unless a test is about it
    # (tests/test_keep.py sets its own value).
    monkeypatch.setenv("LM_ARENA_KEEP_ALIVE", "0")
    if CHROMIUM_OVERRIDE:
        # The run's choice of browser (or of none) holds inside the tests too.
        monkeypatch.setenv("LM_ARENA_BROWSER_EXECUTABLE_PATH", CHROMIUM_OVERRIDE)
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield state


@pytest.fixture(autouse=True)
def no_chromium_unless_marked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test not marked ``browser`` that would launch Chromium fails, naming itself."""
    if request.node.get_closest_marker("browser") is not None:
        return
    from lmarena_cli.browser import page

    def refuse(*args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"{request.node.nodeid} launches Chromium but is not marked browser")

    # The process start itself: finding no browser (exit 9) is still tested without the mark.
    monkeypatch.setattr(page, "start", refuse)


@pytest.fixture
async def arena() -> AsyncIterator[Any]:
    """A fresh fake arena on a loopback port."""
    from tests.fake_arena import FakeArena

    async with FakeArena() as fake:
        yield fake


@pytest.fixture
async def client_factory(arena: Any, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """``make(**settings_changes)``: a Client of the fake ``arena`` on an :class:`HttpBrowser`.

    ``make(browser=other.browser)`` shares a stand-in (``client.browser``); ``record=False`` and
    ``battle_hold=`` as for ``Client``. The state directory is the test's own
    (``LM_ARENA_STATE_DIR``). Every client and stand-in made is closed after the test.
    """
    from lmarena_cli.client.client import Client
    from tests.fakes import HttpBrowser

    made: list[Client] = []
    browsers: list[HttpBrowser] = []

    def make(
        *,
        browser: HttpBrowser | None = None,
        record: bool = True,
        battle_hold: float | None = None,
        **changes: Any,
    ) -> Client:
        settings = settings_for(arena.url, tmp_path / "state", **changes)
        if browser is None:
            browser = HttpBrowser(settings)
            browsers.append(browser)
        client = Client(settings, browser=browser, record=record, battle_hold=battle_hold)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()
    for browser in browsers:
        await browser.close()


@pytest.fixture
async def client(client_factory: ClientFactory) -> Client:
    """A bootstrapped Client of this test's fake arena, on an HttpBrowser (a module may define a
    ``client`` of its own)."""
    made = client_factory()
    await made.bootstrap()
    return made


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM:
        return
    where = f" ({CHROMIUM_OVERRIDE} is not an executable)" if CHROMIUM_OVERRIDE else ""
    skip = pytest.mark.skip(
        reason=f"no Chromium on this machine{where}: scripts/setup installs Debian's chromium"
    )
    for item in items:
        # The marker, not the keywords: a test parametrized with "browser" in its id needs none.
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)
