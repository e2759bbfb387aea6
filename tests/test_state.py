"""The site cache on disk: atomic 0600 files, versioned, ignored with one warning when unusable."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from lmarena_cli.site import facts
from lmarena_cli.state.auth import decode_auth_session
from lmarena_cli.state.cache import (
    CACHE_MAX_AGE,
    DISCOVERY_TTL,
    FORMAT_VERSION,
    SiteCache,
    SiteState,
)
from lmarena_cli.state.files import atomic_write
from lmarena_cli.state.kept import pid_alive
from tests.fake_arena import auth

BASE = "https://arena.ai"


def _state(**changes: object) -> SiteState:
    values: dict[str, object] = {
        "base_url": BASE,
        "user_agent": "Mozilla/5.0 Chrome/156.0.0.0",
        "cookies": {"cf_clearance": "secret-clearance", facts.AUTH_COOKIE: "base64-secret"},
        "site_key": "6LeTGMcsAAAAALuIlkVwIxaAuZA8VledA6d3Nnb0",
        "models": [{"id": "m1", "publicName": "gemini-3-pro"}],
        "action_ids": {"generateUploadUrl": "40" + "a" * 40, "getSignedUrl": "60" + "b" * 40},
    }
    values.update(changes)
    return SiteState(**values)  # type: ignore[arg-type]


def _session_cookies(*, anonymous: bool, expires_at: float = 2_000_000_000) -> dict[str, str]:
    user = auth.User(
        id="0199a0a0-0000-7000-8000-000000000001",
        is_anonymous=anonymous,
        email=None if anonymous else "user@example.com",
    )
    token = auth.make_jwt(user, expires_at, "s1")
    value = auth.encode_cookie_value(auth.session_json(user, token, "r1", expires_at))
    return auth.split_cookie(value)


# --- atomic_write ---------------------------------------------------------------------------------


def test_atomic_write_creates_private_file_in_private_directory(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "cache.json"
    atomic_write(target, b"one")
    assert target.read_bytes() == b"one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) & 0o077 == 0


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "cache.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json"]


def test_atomic_write_honours_the_mode_argument(tmp_path: Path) -> None:
    target = tmp_path / "public.txt"
    atomic_write(target, b"x", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


# --- SiteCache ------------------------------------------------------------------------------------


def test_saved_state_loads_back_equal(tmp_path: Path) -> None:
    cache = SiteCache(tmp_path / "site-cache.json")
    state = _state(cookie_records=[{"name": "cf_clearance", "value": "v", "domain": "arena.ai"}])
    cache.save(state)
    warnings: list[str] = []
    loaded = cache.load(BASE, warn=warnings.append)
    assert loaded == state
    assert warnings == []
    document = orjson.loads(cache.path.read_bytes())
    assert document["format"] == FORMAT_VERSION
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


def test_missing_cache_is_silent(tmp_path: Path) -> None:
    warnings: list[str] = []
    assert SiteCache(tmp_path / "none.json").load(BASE, warn=warnings.append) is None
    assert warnings == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (orjson.dumps({"format": 99, "state": {}}), "format 99"),
        (orjson.dumps({"format": FORMAT_VERSION, "state": {"base_url": BASE}}), "damaged"),
        (orjson.dumps([1, 2]), "not a JSON object"),
    ],
)
def test_unusable_cache_is_ignored_with_one_warning(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    cache = SiteCache(tmp_path / "site-cache.json")
    cache.path.write_bytes(content)
    warnings: list[str] = []
    assert cache.load(BASE, warn=warnings.append) is None
    assert len(warnings) == 1
    assert expected in warnings[0]
    assert str(cache.path) in warnings[0]
    assert "\n" not in warnings[0]


def test_cache_of_another_site_is_ignored(tmp_path: Path) -> None:
    cache = SiteCache(tmp_path / "site-cache.json")
    cache.save(_state(base_url="http://127.0.0.1:9999"))
    warnings: list[str] = []
    assert cache.load(BASE, warn=warnings.append) is None
    assert len(warnings) == 1
    assert "http://127.0.0.1:9999" in warnings[0]


def test_cache_older_than_the_maximum_age_is_ignored(tmp_path: Path) -> None:
    cache = SiteCache(tmp_path / "site-cache.json")
    old = time.time() - CACHE_MAX_AGE - 3600
    cache.save(_state(created_at=old, updated_at=old))
    warnings: list[str] = []
    assert cache.load(BASE, warn=warnings.append) is None
    assert "days old" in warnings[0]


def test_day_old_discovery_is_stale_but_its_cookies_still_load(tmp_path: Path) -> None:
    cache = SiteCache(tmp_path / "site-cache.json")
    then = time.time() - DISCOVERY_TTL - 60
    cache.save(_state(created_at=then, updated_at=then, discovered_at=then))
    loaded = cache.load(BASE, warn=pytest.fail)
    assert loaded is not None
    assert loaded.cookies["cf_clearance"] == "secret-clearance"
    assert loaded.discovery_stale()
    assert not _state().discovery_stale()


def test_state_without_upload_actions_or_site_key_needs_discovery() -> None:
    assert _state(action_ids={}).discovery_stale()
    assert _state(site_key=None).discovery_stale()
    assert _state(models=[]).discovery_stale()


def test_repr_names_cookies_but_never_shows_their_values() -> None:
    state = _state()
    for text in (repr(state), str(state), f"{state}"):
        assert "cf_clearance" in text
        assert "secret-clearance" not in text
        assert "base64-secret" not in text


# --- auth cookie ----------------------------------------------------------------------------------


def test_split_auth_cookie_is_joined_in_numeric_order() -> None:
    value = "base64-" + "".join(f"<{i}>" for i in range(12))
    pieces = {f"{facts.AUTH_COOKIE}.{i}": value[i * 8 : (i + 1) * 8] for i in range(12)}
    pieces = {k: v for k, v in pieces.items() if v}
    shuffled = dict(sorted(pieces.items()))  # lexical order: .0 .1 .10 .11 .2 ...
    state = _state(cookies={"cf_clearance": "x", **shuffled})
    assert state.auth_cookie() == value


def test_missing_base64_prefix_on_chunk_zero_is_restored() -> None:
    cookies = _session_cookies(anonymous=False)
    assert len(cookies) > 1
    first = f"{facts.AUTH_COOKIE}.0"
    cookies[first] = cookies[first].removeprefix("base64-")
    state = _state(cookies=cookies)
    joined = state.auth_cookie()
    assert joined is not None and joined.startswith("base64-")
    session = state.auth_session()
    assert session is not None and session.signed_in


def test_bare_auth_cookie_wins_over_chunks() -> None:
    state = _state(cookies={facts.AUTH_COOKIE: "base64-bare", f"{facts.AUTH_COOKIE}.0": "x"})
    assert state.auth_cookie() == "base64-bare"


def test_no_auth_cookie_gives_none() -> None:
    state = _state(cookies={"cf_clearance": "x"})
    assert state.auth_cookie() is None
    assert state.auth_session() is None


def test_auth_session_of_an_anonymous_user() -> None:
    state = _state(cookies=_session_cookies(anonymous=True, expires_at=1_900_000_000))
    session = state.auth_session()
    assert session is not None
    assert session.is_anonymous is True
    assert not session.signed_in
    assert session.expires_at == 1_900_000_000
    assert session.expired(now=1_900_000_001)
    assert not session.expired(now=1_899_999_999)


def test_auth_session_of_a_signed_in_user_from_chunks() -> None:
    cookies = _session_cookies(anonymous=False)
    assert f"{facts.AUTH_COOKIE}.1" in cookies
    session = _state(cookies=cookies).auth_session()
    assert session is not None and session.signed_in
    assert session.user_id == "0199a0a0-0000-7000-8000-000000000001"


@pytest.mark.parametrize("value", ["base64-!!!", "garbage", "base64-WzEsMl0", "%7Bbroken"])
def test_unreadable_auth_cookie_never_raises(value: str) -> None:
    # Not base64, not JSON, a JSON list ([1,2]), broken percent-encoded JSON: no session.
    assert decode_auth_session(value) is None


def test_an_auth_cookie_of_an_empty_object_is_a_session_that_says_nothing() -> None:
    session = decode_auth_session("base64-" + "e30")  # {}
    assert session is not None
    assert (session.is_anonymous, session.expires_at, session.user_id) == (None, None, None)
    assert not session.signed_in


def test_a_process_is_alive_while_it_runs_and_not_once_it_has_exited_unreaped() -> None:
    # ``server stop`` waits on this: a server that has exited counts as gone even while its
    # parent has not reaped it yet (a zombie).
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        assert pid_alive(child.pid)
        assert child.stdin is not None
        child.stdin.close()
        deadline = time.monotonic() + 10
        while pid_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pid_alive(child.pid)
        assert Path(f"/proc/{child.pid}").exists()  # exited, not reaped: a zombie
    finally:
        child.wait(timeout=10)
    assert not pid_alive(child.pid)
