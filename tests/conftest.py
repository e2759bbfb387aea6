"""Shared fixtures: every test runs with its own state and config directories, never the user's."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)


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
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield state


@pytest.fixture
async def arena() -> AsyncIterator[Any]:
    """A fresh fake arena on a loopback port."""
    from tests.fake_arena import FakeArena

    async with FakeArena() as fake:
        yield fake


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM:
        return
    skip = pytest.mark.skip(
        reason="no Chromium on this machine: scripts/setup installs Debian's chromium"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
