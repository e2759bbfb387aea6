"""Templates on disk: lmarena's own, llm's and Fabric's, found by name and read into one shape.

A template is a saved system prompt, prompt and options. Three places hold them, searched in this
order (the first that has a name wins; ``lmarena templates`` says which, and what it hides):

``lmarena``
    ``$XDG_CONFIG_HOME/lmarena/templates/NAME.yaml`` (or ``.yml``, or ``.toml``): the folder of the
    config file that holds the roles. Keys: :data:`OWN_KEYS`.
``llm``
    llm's templates, read where llm keeps them and never copied: ``$LLM_USER_PATH/templates``,
    else llm's user folder (``$XDG_CONFIG_HOME/io.datasette.llm``, on macOS
    ``~/Library/Application Support/io.datasette.llm``). ``NAME.yaml`` only, as llm lists them;
    llm's keys (:data:`LLM_KEYS`); a file that is one string is a prompt, as in llm.
``fabric``
    Fabric's patterns, ``~/.config/fabric/patterns/NAME/system.md`` (Fabric looks in the home
    folder, whatever ``XDG_CONFIG_HOME`` says), with ``user.md`` as a prompt when it has text.
    Their text is used as it is: Fabric's markdown is not read for ``$`` parameters.

A file that cannot be used (bad YAML or TOML, an unknown key, a value of the wrong type) is a
:class:`~lmarena_cli.errors.UsageError` whose message starts with ``PATH:LINE:`` (the line where
the parser or a look at the text gives one). Nothing here prints or imports the client.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..settings import default_config_path

SOURCES = ("lmarena", "llm", "fabric")
#: The keys of lmarena's own templates.
OWN_KEYS = ("description", "system", "prompt", "model", "schema", "extract", "defaults")
#: llm's template keys that lmarena honours (``schema_object`` is llm's name for ``schema``;
#: ``options`` are model options, which arena.ai has none of: read, and ignored with a note).
LLM_KEYS = ("name", "system", "prompt", "model", "defaults", "extract", "schema_object", "options")
#: llm's other keys: a template using them would not do here what it does in llm.
LLM_UNSUPPORTED = (
    "attachments",
    "attachment_types",
    "extract_last",
    "fragments",
    "system_fragments",
    "tools",
    "functions",
)
_OWN_SUFFIXES = (".yaml", ".yml", ".toml")


@dataclass(frozen=True)
class Place:
    """Where a template of ``name`` was found: its source and its file (Fabric: system.md)."""

    name: str
    source: str
    path: Path


@dataclass(frozen=True)
class Template:
    """One template, read: what it sets (None: not set) and where it came from."""

    name: str
    source: str
    path: Path
    system: str | None = None
    prompt: str | None = None
    model: str | None = None
    schema: dict[str, Any] | None = None
    extract: bool = False
    #: Parameter defaults (llm's ``defaults``), for ``$name`` not given with ``-p``.
    defaults: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    #: Options the file sets that arena.ai has no use for (llm's ``options``): named in a note.
    ignored: tuple[str, ...] = ()
    #: Whether ``$input`` and ``$name`` are filled in (not in Fabric's markdown).
    substitutes: bool = True
    #: The files' text, to find the line of a parameter.
    text: str = ""

    def summary(self, width: int = 70) -> str:
        """A short description: ``description``, else the first line of prose of the system
        prompt or the prompt (markdown headings passed over)."""
        if self.description and self.description.strip():
            return _cut(self.description.strip().splitlines()[0], width)
        for text in (self.system, self.prompt):
            for line in (text or "").splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    return _cut(line.strip(), width)
        return ""


def lmarena_dir() -> Path:
    """lmarena's templates: ``templates/`` next to the config file's default place."""
    return default_config_path().parent / "templates"


def llm_dir() -> Path:
    """llm's templates folder, as llm finds it (``LLM_USER_PATH``, else click's app folder)."""
    named = os.environ.get("LLM_USER_PATH")
    if named:
        return Path(named).expanduser() / "templates"
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home())
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "io.datasette.llm" / "templates"


def fabric_dir() -> Path:
    """Fabric's patterns: ``~/.config/fabric/patterns`` (Fabric ignores ``XDG_CONFIG_HOME``)."""
    return Path.home() / ".config" / "fabric" / "patterns"


def places() -> list[Place]:
    """Every template found, lmarena's first, then llm's, then Fabric's; by name in each."""
    found: list[Place] = []
    seen: set[str] = set()
    for path in _files(lmarena_dir()):
        if path.suffix in _OWN_SUFFIXES and path.stem not in seen:
            seen.add(path.stem)  # NAME.yaml before NAME.yml before NAME.toml
            found.append(Place(path.stem, "lmarena", path))
    found += [Place(p.stem, "llm", p) for p in _files(llm_dir()) if p.suffix == ".yaml"]
    for folder in _files(fabric_dir()):
        if (folder / "system.md").is_file():
            found.append(Place(folder.name, "fabric", folder / "system.md"))
    return found


def find(name: str) -> Template:
    """The template ``name`` from the first place that has it; a UsageError when none has."""
    for place in places():
        if place.name == name:
            return load(place)
    where = ", ".join(str(p) for p in (lmarena_dir(), llm_dir(), fabric_dir()))
    raise UsageError(
        f"unknown template {name!r} (looked in {where}); `lmarena templates` lists them"
    )


def load(place: Place) -> Template:
    """Read one template; a UsageError starting with ``PATH:LINE:`` when it cannot be used."""
    if place.source == "fabric":
        return _fabric(place)
    text = read(place.path)
    if place.path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:  # its message ends "(at line N, column M)"
            raise UsageError(f"{place.path}: not valid TOML: {exc}") from None
    else:
        data = _yaml(place.path, text)
    if data is None:
        data = {}
    if isinstance(data, str):
        data = {"prompt": data}  # llm's short form: the file is the prompt
    if not isinstance(data, dict):
        raise UsageError(f"{place.path}:1: a template is a mapping of keys (system, prompt, …)")
    if place.source == "llm":
        return _llm(place, data, text)
    return _own(place, data, text)


def _own(place: Place, data: dict[str, Any], text: str) -> Template:
    _check_keys(place.path, text, data, OWN_KEYS, ())
    read = _Reader(place.path, text, data)
    return Template(
        place.name,
        place.source,
        place.path,
        system=read.text("system"),
        prompt=read.text("prompt"),
        model=read.text("model"),
        schema=read.mapping("schema"),
        extract=read.flag("extract"),
        defaults=read.defaults(),
        description=read.text("description"),
        text=text,
    )


def _llm(place: Place, data: dict[str, Any], text: str) -> Template:
    _check_keys(place.path, text, data, LLM_KEYS, LLM_UNSUPPORTED)
    read = _Reader(place.path, text, data)
    options = read.mapping("options") or {}
    return Template(
        place.name,
        place.source,
        place.path,
        system=read.text("system"),
        prompt=read.text("prompt"),
        model=read.text("model"),
        schema=read.mapping("schema_object"),
        extract=read.flag("extract"),
        defaults=read.defaults(),
        ignored=tuple(str(key) for key in options),
        text=text,
    )


def _fabric(place: Place) -> Template:
    system = read(place.path)
    user_path = place.path.with_name("user.md")
    user = read(user_path) if user_path.is_file() else ""
    return Template(
        place.name,
        place.source,
        place.path,
        system=system if system.strip() else None,
        prompt=user if user.strip() else None,
        substitutes=False,
        text=system + user,
    )


class _Reader:
    """A template's values, each checked for its type (a UsageError naming the key's line)."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path, self.source, self.data = path, text, data

    def _bad(self, key: str, wanted: str) -> UsageError:
        line = line_of(self.source, rf"^\s*['\"]?{re.escape(key)}['\"]?\s*[:=]")
        return UsageError(f"{self.path}:{line}: {key} must be {wanted}")

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def mapping(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, dict):
            raise self._bad(key, "a mapping")
        return value

    def defaults(self) -> dict[str, str]:
        values = self.mapping("defaults") or {}
        if any(isinstance(v, dict | list) or v is None for v in values.values()):
            raise self._bad("defaults", "a mapping of parameter names to values")
        return {str(k): _scalar(v) for k, v in values.items()}


def _check_keys(
    path: Path,
    text: str,
    data: dict[str, Any],
    known: tuple[str, ...],
    unsupported: tuple[str, ...],
) -> None:
    for key in data:
        if key in known:
            continue
        line = line_of(text, rf"^\s*['\"]?{re.escape(str(key))}['\"]?\s*[:=]")
        if key in unsupported:
            raise UsageError(
                f"{path}:{line}: {key} is an llm feature that lmarena does not have "
                "(lmarena reads system, prompt, model, defaults, extract and schema_object)"
            )
        raise UsageError(
            f"{path}:{line}: unknown key {key!r} (a template takes {', '.join(known)})"
        )


def _yaml(path: Path, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise UsageError(f"{path}{line}: not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from None


def read(path: Path) -> str:
    """A template file's text; a UsageError when it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _files(folder: Path) -> list[Path]:
    """A folder's entries by name, hidden ones left out (a save's temporary file); none when the
    folder is missing or unreadable."""
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return []


def complete_template(incomplete: str) -> list[str]:
    """Template names from every place, for ``-t``'s completion: offline, silent on failure."""
    try:
        names = {place.name for place in places()}
    except Exception:  # completion must never print a traceback into the user's shell
        return []
    return sorted(name for name in names if name.startswith(incomplete))


def line_of(text: str, pattern: str) -> int:
    """The number of the first line of ``text`` matching ``pattern`` (1 when none does)."""
    for number, line in enumerate(text.splitlines(), 1):
        if re.search(pattern, line):
            return number
    return 1


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


__all__ = [
    "LLM_KEYS",
    "OWN_KEYS",
    "SOURCES",
    "Place",
    "Template",
    "complete_template",
    "fabric_dir",
    "find",
    "line_of",
    "llm_dir",
    "lmarena_dir",
    "load",
    "places",
    "read",
]
