"""One ``Settings`` object, from flags > environment (``LM_ARENA_*``) > config file > defaults.

The config file is optional TOML at ``$XDG_CONFIG_HOME/lmarena/config.toml`` (or the path in
``LM_ARENA_CONFIG``), with the same names as the variables, lower-case and without the prefix::

    model = "claude-opus-4-5"
    browser_headless = true
    port = 8080
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

ENV_PREFIX = "LM_ARENA_"
DEFAULT_BASE_URL = "https://arena.ai"
DEFAULT_MODEL = "gemini-3-pro"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "lmarena"


def default_config_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "lmarena" / "config.toml"


@dataclass(frozen=True)
class Settings:
    """Everything the tool can be told. Field names are the variable names without the prefix."""

    base_url: str = DEFAULT_BASE_URL
    browser_executable_path: str | None = None
    browser_user_data_dir: Path | None = None
    browser_profile_directory: str | None = None
    browser_incognito: bool = False
    #: None means: headful where a display exists, headless where none does.
    browser_headless: bool | None = None
    host: str = "127.0.0.1"
    port: int = 1337
    model: str = DEFAULT_MODEL
    state_dir: Path = field(default_factory=default_state_dir)
    proxy: str | None = None
    api_key: str | None = field(default=None, repr=False)
    #: Seconds to wait for the site to start answering (connect and first token).
    timeout: float = 120.0
    #: Seconds of silence allowed between two chunks of a streamed answer.
    idle_timeout: float = 120.0
    #: Let `serve` fetch image URLs on loopback and private networks.
    allow_private_urls: bool = False
    #: How `serve` treats a request's earlier messages when no stored conversation matches them:
    #: "match" folds them into the first prompt; "last" sends the last user turn only.
    serve_history: str = "match"

    @property
    def cache_path(self) -> Path:
        return self.state_dir / "site-cache.json"

    @property
    def store_path(self) -> Path:
        return self.state_dir / "conversations.sqlite3"

    @property
    def profile_dir(self) -> Path:
        return self.state_dir / "browser-profile"

    @classmethod
    def load(
        cls,
        flags: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        config_path: Path | None = None,
    ) -> Settings:
        """Build settings; flags whose value is None count as not given."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if config_path is None and env.get(ENV_PREFIX + "CONFIG"):
            config_path = Path(env[ENV_PREFIX + "CONFIG"])
        for name, raw in _read_config(config_path or default_config_path()).items():
            values[name] = _convert(name, raw, f"{name} in the config file")
        if "proxy" not in values:
            for var in ("HTTPS_PROXY", "https_proxy"):
                if env.get(var):
                    values["proxy"] = env[var]
                    break
        for name in _FIELDS:
            var = ENV_PREFIX + name.upper()
            if env.get(var, "") != "":
                values[name] = _convert(name, env[var], var)
        for name, raw in (flags or {}).items():
            if raw is not None:
                if name not in _FIELDS:
                    raise ConfigError(f"unknown setting {name!r}")
                values[name] = _convert(name, raw, f"--{name.replace('_', '-')}")
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


_FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Settings)}


def parse_bool(value: str, source: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{source} must be one of 1/true/yes/on or 0/false/no/off, not {value!r}")


def _convert(name: str, raw: Any, source: str) -> Any:
    """Turn a raw value (string from the environment, or TOML value) into the field's type."""
    if name not in _FIELDS:
        raise ConfigError(f"unknown setting {name!r} ({source})")
    kind = str(_FIELDS[name].type)
    if "bool" in kind:
        if isinstance(raw, bool):
            return raw
        return parse_bool(str(raw), source)
    if kind.startswith("int"):
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source} must be a whole number, not {raw!r}") from None
        if name == "port" and not 0 <= number <= 65535:
            raise ConfigError(f"{source} must be a port number from 0 to 65535, not {number}")
        return number
    if kind.startswith("float"):
        try:
            seconds = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source} must be a number of seconds, not {raw!r}") from None
        if not seconds > 0:
            raise ConfigError(f"{source} must be more than 0 seconds, not {raw!r}")
        return seconds
    if "Path" in kind:
        return Path(str(raw)).expanduser()
    if name == "base_url":
        url = str(raw).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{source} must be an http(s) URL, not {raw!r}")
        return url
    return str(raw)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
    return data
