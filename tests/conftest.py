"""Shared fixtures: every test runs with its own state and config directories, never the user's.

Tests marked ``browser`` drive a real Chromium; the others must never launch one and use
:class:`tests.fakes.HttpBrowser` instead, through :func:`client_factory`. Two tripwires fail
them if they try: in this process the launch itself is refused, and in the processes they start
``PATH`` finds a wrapper under every browser's name that records the call and exits non-zero,
which fails the test when it ends. ``LM_ARENA_BROWSER_EXECUTABLE_PATH`` set for the test run
names the Chromium to use; set to a path that is no executable (``/nonexistent``) it stands for
a machine without Chromium: the ``browser`` tests are skipped, saying why, or fail when the run
sets ``LM_ARENA_REQUIRE_BROWSER=1`` (as CI does). See :mod:`tests.helpers.chromium`.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers.chromium import CHROMIUM, CHROMIUM_OVERRIDE, REQUIRED, missing_reason
from tests.helpers.clients import ClientFactory, settings_for

if TYPE_CHECKING:
    from lmarena_cli.client.client import Client
    from tests.fakes import HttpBrowser


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
    # (tests/test_kept.py sets its own value).
    monkeypatch.setenv("LM_ARENA_KEEP_ALIVE", "0")
    if CHROMIUM_OVERRIDE:
        # The run's choice of browser (or of none) holds inside the tests too.
        monkeypatch.setenv("LM_ARENA_BROWSER_EXECUTABLE_PATH", CHROMIUM_OVERRIDE)
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield state


#: The wrapper found on PATH in place of every browser by the processes a test starts.
TRIPWIRE = """#!/bin/sh
echo "$0 $*" >> '{log}'
echo "tripwire: {test} started a browser ($0) but is not marked browser" >&2
exit 97
"""


@pytest.fixture(autouse=True)
def no_chromium_unless_marked(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    isolated_dirs: Path,  # first: this fixture overrides its choice of browser
) -> Iterator[None]:
    """A test not marked ``browser`` that would launch Chromium fails, naming itself; one
    marked ``browser`` fails at once on a run that requires Chromium and has none."""
    if request.node.get_closest_marker("browser") is not None:
        if CHROMIUM is None and REQUIRED:
            pytest.fail(f"{missing_reason()} (LM_ARENA_REQUIRE_BROWSER is set)")
        yield
        return
    from lmarena_cli.browser import page
    from lmarena_cli.browser.options import BROWSER_NAMES

    def refuse(*args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"{request.node.nodeid} launches Chromium but is not marked browser")

    # The process start itself: finding no browser (exit 9) is still tested without the mark.
    monkeypatch.setattr(page, "start", refuse)
    # The processes the test starts find the wrapper first, under every name of a browser.
    wires = tmp_path_factory.mktemp("tripwire")  # not in tmp_path: tests list that folder
    log = wires / "launched.log"
    shown = re.sub(r"[^\w./:\[\], =-]", "_", request.node.nodeid)  # nothing the shell reads
    script = TRIPWIRE.format(log=log, test=shown)
    for name in BROWSER_NAMES:
        wire = wires / name
        wire.write_text(script)
        wire.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wires}{os.pathsep}{os.environ.get('PATH', '')}")
    if CHROMIUM_OVERRIDE and CHROMIUM:  # the run named a real browser: the wrapper instead
        monkeypatch.setenv("LM_ARENA_BROWSER_EXECUTABLE_PATH", str(wires / BROWSER_NAMES[0]))
    yield
    if log.exists():
        pytest.fail(
            f"{request.node.nodeid} started a browser in a process but is not marked browser: "
            + log.read_text().strip()
        )


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
    if CHROMIUM or REQUIRED:  # (required and missing: each fails in no_chromium_unless_marked)
        return
    skip = pytest.mark.skip(reason=missing_reason())
    for item in items:
        # The marker, not the keywords: a test parametrized with "browser" in its id needs none.
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)
