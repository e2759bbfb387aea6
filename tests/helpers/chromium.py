"""Which Chromium the ``browser`` tests drive, and whether a run may go without one.

``LM_ARENA_BROWSER_EXECUTABLE_PATH`` set for the test run names the Chromium to use; set to a
path that is no executable (``/nonexistent``) it stands for a machine without Chromium.
``LM_ARENA_REQUIRE_BROWSER=1`` (CI sets it, ``.ci/run``) makes a missing Chromium fail every
``browser`` test instead of skipping it, so that such a run cannot go green. Both are read as
the run starts (the tests themselves run with every ``LM_ARENA_*`` variable cleared).
"""

from __future__ import annotations

import os
import shutil

#: The executable the run named (``LM_ARENA_BROWSER_EXECUTABLE_PATH``), or None.
CHROMIUM_OVERRIDE = os.environ.get("LM_ARENA_BROWSER_EXECUTABLE_PATH") or None
#: A run that must drive a real Chromium: its absence fails the ``browser`` tests.
REQUIRED = os.environ.get("LM_ARENA_REQUIRE_BROWSER", "").strip().lower() in ("1", "true", "yes")


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _find() -> str | None:
    if CHROMIUM_OVERRIDE:
        return CHROMIUM_OVERRIDE if _executable(CHROMIUM_OVERRIDE) else None
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


#: The executable the ``browser`` tests use, or None (they are then skipped, or fail).
CHROMIUM = _find()


def missing_reason() -> str:
    """Why the ``browser`` tests cannot run (CHROMIUM is None)."""
    where = f" ({CHROMIUM_OVERRIDE} is not an executable)" if CHROMIUM_OVERRIDE else ""
    return f"no Chromium on this machine{where}: scripts/setup installs Debian's chromium"


def chromium() -> str:
    """The Chromium of a ``browser`` test (which runs only when there is one)."""
    assert CHROMIUM is not None, missing_reason()
    return CHROMIUM


__all__ = ["CHROMIUM", "CHROMIUM_OVERRIDE", "REQUIRED", "chromium", "missing_reason"]
