"""Finding a Chromium-family browser and deciding how to run it: nothing here starts one.

Which executable (the setting, then ``PATH``, then the usual install folders), headless or not,
and the command-line flags (quiet, profile, proxy without credentials).
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from ..errors import BrowserUnavailable
from ..settings import Settings

#: Names tried on PATH, in order.
BROWSER_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "brave-browser",
    "microsoft-edge",
)
#: Flags that keep Chromium quiet and ordinary: no background traffic, no first-run UI, no
#: automation marker (``navigator.webdriver``), and TCP rather than QUIC (proxies, Cloudflare).
QUIET_FLAGS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-breakpad",
    "--disable-session-crashed-bubble",
    "--disable-search-engine-choice-screen",
    "--password-store=basic",
    "--use-mock-keychain",
    "--disable-blink-features=AutomationControlled",
    # Cross-site iframes (Turnstile, reCAPTCHA) stay in the page's target, so the User-Agent
    # override set on the page covers them too.
    "--disable-features=IsolateOrigins,site-per-process",
)


# --------------------------------------------------------------------------------------------------
# Finding the browser and deciding how to run it
# --------------------------------------------------------------------------------------------------


def _install_paths() -> list[str]:
    """Where Chromium-family browsers are usually installed on this platform."""
    if sys.platform == "darwin":
        apps = [
            "Google Chrome.app/Contents/MacOS/Google Chrome",
            "Chromium.app/Contents/MacOS/Chromium",
            "Brave Browser.app/Contents/MacOS/Brave Browser",
            "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
        ]
        roots = ["/Applications", str(Path.home() / "Applications")]
        return [f"{root}/{app}" for root in roots for app in apps]
    if os.name == "nt":
        roots = [
            os.environ.get(var)
            for var in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA", "PROGRAMW6432")
        ]
        apps = [
            r"Google\Chrome\Application\chrome.exe",
            r"Chromium\Application\chrome.exe",
            r"BraveSoftware\Brave-Browser\Application\brave.exe",
            r"Microsoft\Edge\Application\msedge.exe",
        ]
        return [os.path.join(root, app) for root in roots if root for app in apps]
    return [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
        "/usr/bin/google-chrome-stable",
        "/opt/google/chrome/chrome",
        "/usr/bin/brave-browser",
        "/opt/brave.com/brave/brave",
        "/usr/bin/microsoft-edge",
        "/opt/microsoft/msedge/msedge",
        "/snap/bin/chromium",
    ]


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_browser(
    settings: Settings,
    *,
    search_path: str | None = None,
    install_paths: Sequence[str] | None = None,
) -> str:
    """The Chromium-family executable to use.

    ``LM_ARENA_BROWSER_EXECUTABLE_PATH`` (``settings.browser_executable_path``) wins; then the
    names of :data:`BROWSER_NAMES` on ``PATH`` (or ``search_path``); then the usual install
    paths of Linux, macOS and Windows. Raises BrowserUnavailable (exit code 9) saying how to
    install one when none is found.
    """
    wanted = settings.browser_executable_path
    if wanted:
        resolved = shutil.which(wanted) if os.sep not in wanted else wanted
        if resolved and _executable(resolved):
            return resolved
        raise BrowserUnavailable(
            f"LM_ARENA_BROWSER_EXECUTABLE_PATH is {wanted!r}, but that is not an executable file; "
            "point it at Chromium, Chrome, Brave or Edge"
        )
    for name in BROWSER_NAMES:
        found = shutil.which(name, path=search_path)
        if found and _executable(found):
            return found
    for candidate in _install_paths() if install_paths is None else install_paths:
        if _executable(candidate):
            return candidate
    raise BrowserUnavailable(
        "no Chromium-family browser found (looked for "
        + ", ".join(BROWSER_NAMES)
        + " on PATH and in the usual install folders). Install one, e.g. "
        "`sudo apt-get install chromium`, or set LM_ARENA_BROWSER_EXECUTABLE_PATH to the "
        "browser's executable"
    )


def has_display(environ: dict[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a window can be shown: always on macOS and Windows, X11/Wayland on the others."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def decide_headless(
    settings: Settings,
    *,
    environ: dict[str, str] | None = None,
    platform: str | None = None,
) -> bool:
    """``LM_ARENA_BROWSER_HEADLESS`` when set; else headless exactly when there is no display.

    The real site's checks are kinder to a headful browser, so a desktop gets a window.
    """
    if settings.browser_headless is not None:
        return settings.browser_headless
    return not has_display(environ, platform)


def browser_args(
    settings: Settings,
    *,
    user_data_dir: Path,
    headless: bool,
    environ: dict[str, str] | None = None,
) -> list[str]:
    """Chromium's command-line flags (without the executable)."""
    env = os.environ if environ is None else environ
    args = [f"--user-data-dir={user_data_dir}", "--remote-debugging-port=0", *QUIET_FLAGS]
    if settings.browser_profile_directory:
        args.append(f"--profile-directory={settings.browser_profile_directory}")
    if headless:
        args += ["--headless=new", "--disable-gpu", "--window-size=1366,900"]
    if _is_root():
        # Chromium refuses to run as root with its sandbox on.
        args.append("--no-sandbox")
    if sys.platform.startswith("linux"):
        # Containers often have a tiny /dev/shm.
        args.append("--disable-dev-shm-usage")
    if settings.proxy:
        args.append(f"--proxy-server={proxy_for_chromium(settings.proxy)}")
        bypass = env.get("NO_PROXY") or env.get("no_proxy")
        if bypass:
            rules = ";".join(part.strip() for part in bypass.split(",") if part.strip())
            args.append(f"--proxy-bypass-list={rules}")
    args.append("about:blank")
    return args


def proxy_for_chromium(proxy: str) -> str:
    """The proxy URL without credentials: Chromium takes none on its command line."""
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


__all__ = [
    "BROWSER_NAMES",
    "QUIET_FLAGS",
    "browser_args",
    "decide_headless",
    "find_browser",
    "has_display",
    "proxy_for_chromium",
]
