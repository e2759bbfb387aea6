"""One ``Settings`` object, from flags > environment (``LM_ARENA_*``) > config file > defaults.

The config file is optional TOML at ``$XDG_CONFIG_HOME/lmarena/config.toml`` (or the path in
``LM_ARENA_CONFIG``), with the same names as the variables, lower-case and without the prefix::

    model = "claude-opus-4-5"
    browser_headless = true
    port = 8080

Roles are named system prompts, each a ``[roles.NAME]`` table with ``system`` (required) and
``model`` (optional), used with ``lmarena ask --role NAME`` and ``lmarena chat --role NAME``::

    [roles.shell]
    system = "Answer with one POSIX shell command in a ```sh block, nothing else."
    model = "claude-opus-4-5"

They live in the config file only (no variable, no flag): :attr:`Settings.roles`,
:meth:`Settings.role`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, UsageError

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


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    """The config file in use: ``LM_ARENA_CONFIG``, else the XDG default."""
    env = os.environ if environ is None else environ
    named = env.get(ENV_PREFIX + "CONFIG")
    return Path(named).expanduser() if named else default_config_path()


@dataclass(frozen=True)
class Role:
    """A ``[roles.NAME]`` table of the config file: a system prompt and, optionally, a model."""

    name: str
    system: str
    model: str | None = None


#: The keys a ``[roles.NAME]`` table may have.
ROLE_KEYS = ("system", "model")


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
    #: Seconds allowed between an answer's status and headers and its first byte of body (a
    #: heartbeat counts): the site may accept a message and send nothing (protocol §15.3).
    first_byte_timeout: float = 20.0
    #: Seconds the first text of a single-model answer is held, after the conversation's first
    #: turn, to catch a battle before anything is shown (protocol §15.1); 0: never held.
    battle_hold: float = 1.0
    #: Let `serve` fetch image URLs on loopback and private networks.
    allow_private_urls: bool = False
    #: How `serve` treats a request's earlier messages when no stored conversation matches them:
    #: "match" folds them into the first prompt; "last" sends the last user turn only.
    serve_history: str = "match"
    #: How requests to the site leave: "auto" (aiohttp, and the browser page once Cloudflare
    #: refuses aiohttp), "http" (always aiohttp) or "page" (always from the browser page).
    transport: str = "auto"
    #: Seconds kept between two sends to the site, across all of this user's processes (0: no
    #: spacing).
    min_interval: float = 0.0
    #: The longest wait the site asks for (a remembered penalty, a 429's Retry-After) that a
    #: send waits out instead of failing (0: never wait).
    max_wait: float = 60.0
    #: Sends a UTC day, counted across this user's processes (0: no budget).
    daily_sends: int = 0
    #: Seconds a kept server (started by `ask` and `chat`, see `lmarena server`) stays up
    #: without a request; 0 turns the kept server off (every command runs in-process).
    keep_alive: float = 600.0
    #: The longest prompt sent to the site, in characters, as it is sent (system prompt, folded
    #: history, files and instructions included); a longer one is refused unsent (PromptTooLong).
    #: A little under the 50,000 characters the site's own clients limit a message to.
    max_prompt_chars: int = 48_000
    #: The config file's ``[roles.NAME]`` tables, in file order (config file only).
    roles: tuple[Role, ...] = ()

    def role(self, name: str) -> Role:
        """The role of this name; :class:`UsageError` (exit 2) naming the known ones otherwise."""
        for role in self.roles:
            if role.name == name:
                return role
        if not self.roles:
            raise UsageError(
                f"unknown role {name!r}: the config file {config_file()} defines no roles "
                '(add a [roles.NAME] table with system = "...")'
            )
        known = ", ".join(role.name for role in self.roles)
        raise UsageError(f"unknown role {name!r}; the config file defines: {known}")

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
        for name, raw in _read_config(config_path or config_file(env)).items():
            if name == "roles":
                values[name] = _roles(raw)
            else:
                values[name] = _convert(name, raw, f"{name} in the config file")
        if "proxy" not in values:
            for var in ("HTTPS_PROXY", "https_proxy"):
                if env.get(var):
                    values["proxy"] = env[var]
                    break
        for name in _SCALARS:
            var = ENV_PREFIX + name.upper()
            if env.get(var, "") != "":
                values[name] = _convert(name, env[var], var)
        for name, raw in (flags or {}).items():
            if raw is not None:
                if name not in _SCALARS:
                    raise ConfigError(f"unknown setting {name!r}")
                values[name] = _convert(name, raw, f"--{name.replace('_', '-')}")
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


#: Seconds settings for which 0 means "off".
_ZERO_ALLOWED = {"min_interval", "keep_alive", "battle_hold", "max_wait"}
#: Settings that take one of a few words.
_CHOICES = {"transport": ("auto", "http", "page")}
_FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Settings)}
#: The settings that a variable, a flag or a plain config key sets (not the roles' tables).
_SCALARS = {name: f for name, f in _FIELDS.items() if name != "roles"}


def parse_bool(value: str, source: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{source} must be one of 1/true/yes/on or 0/false/no/off, not {value!r}")


def _convert(name: str, raw: Any, source: str) -> Any:
    """Turn a raw value (string from the environment, or TOML value) into the field's type."""
    if name not in _SCALARS:
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
        if name == "daily_sends" and number < 0:
            raise ConfigError(f"{source} must be a number of sends (0: no budget), not {number}")
        if name == "max_prompt_chars" and number < 1:
            raise ConfigError(f"{source} must be a number of characters above 0, not {number}")
        return number
    if kind.startswith("float"):
        try:
            seconds = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source} must be a number of seconds, not {raw!r}") from None
        if name in _ZERO_ALLOWED:
            if not 0 <= seconds < float("inf"):
                raise ConfigError(f"{source} must be 0 or more seconds, not {raw!r}")
        elif not seconds > 0:
            raise ConfigError(f"{source} must be more than 0 seconds, not {raw!r}")
        return seconds
    if "Path" in kind:
        return Path(str(raw)).expanduser()
    if name in _CHOICES:
        choice = str(raw).strip().lower()
        if choice not in _CHOICES[name]:
            raise ConfigError(f"{source} must be one of {', '.join(_CHOICES[name])}, not {raw!r}")
        return choice
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


def _roles(raw: Any) -> tuple[Role, ...]:
    """The config file's ``roles`` table, checked: each ``[roles.NAME]`` needs ``system``."""
    if not isinstance(raw, dict):
        raise ConfigError(
            'roles in the config file must be tables: [roles.NAME] with system = "..."'
        )
    roles = []
    for name, table in raw.items():
        where = f"[roles.{name}] in the config file"
        if not isinstance(table, dict):
            raise ConfigError(f'{where} must be a table with system = "..."')
        unknown = sorted(set(table) - set(ROLE_KEYS))
        if unknown:
            raise ConfigError(
                f"{where} has unknown key(s) {', '.join(unknown)} (it takes system and model)"
            )
        system, model = table.get("system"), table.get("model")
        if not isinstance(system, str) or not system.strip():
            raise ConfigError(f'{where} needs system = "...", a non-empty string')
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ConfigError(f"{where}: model must be a model name (a string)")
        roles.append(Role(name=name, system=system, model=model.strip() if model else None))
    return tuple(roles)
