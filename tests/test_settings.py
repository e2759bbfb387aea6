"""Settings: flags > environment > config file > defaults, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmarena_cli.errors import ConfigError
from lmarena_cli.settings import DEFAULT_BASE_URL, Settings


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    settings = Settings.load(environ={"HOME": str(tmp_path)}, config_path=tmp_path / "none.toml")
    assert settings.base_url == DEFAULT_BASE_URL
    assert (settings.host, settings.port) == ("127.0.0.1", 1337)
    assert settings.browser_headless is None
    assert settings.browser_incognito is False
    assert settings.max_prompt_chars == 48_000  # under the site's clients' 50,000


def test_the_prompt_budget_is_a_setting(tmp_path: Path) -> None:
    env = {"LM_ARENA_MAX_PROMPT_CHARS": "1200"}
    assert Settings.load(environ=env, config_path=tmp_path / "none.toml").max_prompt_chars == 1200


def test_environment_overrides_config_file_and_flags_override_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "from-file"\nport = 9000\nbrowser_headless = false\n')
    env = {"LM_ARENA_MODEL": "from-env", "LM_ARENA_BROWSER_HEADLESS": "yes"}
    settings = Settings.load({"model": "from-flag", "port": None}, environ=env, config_path=config)
    assert settings.model == "from-flag"
    assert settings.port == 9000
    assert settings.browser_headless is True


@pytest.mark.parametrize("raw, expected", [("1", True), ("on", True), ("No", False), ("0", False)])
def test_booleans_accept_the_documented_words(raw: str, expected: bool, tmp_path: Path) -> None:
    settings = Settings.load(
        environ={"LM_ARENA_BROWSER_INCOGNITO": raw}, config_path=tmp_path / "none.toml"
    )
    assert settings.browser_incognito is expected


def test_a_bad_boolean_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LM_ARENA_BROWSER_HEADLESS") as caught:
        Settings.load(
            environ={"LM_ARENA_BROWSER_HEADLESS": "maybe"}, config_path=tmp_path / "none.toml"
        )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "var, value, words",
    [
        ("LM_ARENA_PORT", "eighty", "whole number"),
        ("LM_ARENA_PORT", "70000", "port number"),
        ("LM_ARENA_TIMEOUT", "-3", "more than 0"),
        ("LM_ARENA_BASE_URL", "arena.ai", "http(s) URL"),
        ("LM_ARENA_MAX_PROMPT_CHARS", "0", "above 0"),
        ("LM_ARENA_MAX_PROMPT_CHARS", "lots", "whole number"),
    ],
)
def test_bad_values_are_refused_with_the_reason(
    var: str, value: str, words: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=var) as caught:
        Settings.load(environ={var: value}, config_path=tmp_path / "none.toml")
    assert words in str(caught.value)


def test_https_proxy_is_used_when_no_lm_arena_proxy_is_set(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    assert Settings.load(environ={"HTTPS_PROXY": "http://p:3128"}, config_path=none).proxy == (
        "http://p:3128"
    )
    both = {"HTTPS_PROXY": "http://p:3128", "LM_ARENA_PROXY": "http://q:8080"}
    assert Settings.load(environ=both, config_path=none).proxy == "http://q:8080"


def test_a_broken_config_file_is_reported_with_its_path(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("model = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        Settings.load(environ={}, config_path=config)
    assert str(config) in str(caught.value)


def test_the_api_key_never_shows_in_repr(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={"LM_ARENA_API_KEY": "sk-secret-123"}, config_path=tmp_path / "none.toml"
    )
    assert settings.api_key == "sk-secret-123"
    assert "sk-secret-123" not in repr(settings)
