"""Templates (``-t/--template NAME`` on ``ask`` and ``chat``) and ``lmarena templates``.

A template is a saved system prompt, prompt and options (:mod:`.template_files` finds and reads
them: lmarena's own, llm's, Fabric's). Its prompt is filled in the way llm fills its templates:
``$input`` is what ``ask`` would have sent (stdin, a blank line, the argument), ``$name`` and
``$1`` are parameters given with ``-p name VALUE`` (else the template's ``defaults``), ``$$`` is
one ``$``. A prompt without ``$input`` comes first and the input after it, a blank line between;
a template without a prompt sends the input as it is. The command line wins over the template:
``-s``/``--role`` over its system prompt (with a note on stderr), ``-m`` over its model, ``-x`` and
``--schema`` over its ``extract`` and ``schema``.

``ask --save NAME`` writes the options of its command line as lmarena's template ``NAME.yaml``
(atomically; only the template's own keys, so never a cookie or a key).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from ..errors import UsageError
from . import template_files
from .options import NoColorOpt, QuietOpt
from .runtime import failures
from .template_files import Template
from .terminal import Terminal

_PLACEHOLDER = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-zA-Z][_a-zA-Z0-9]*|[0-9]+)"
    r"|\{(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*|[0-9]+)\})"
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Applied:
    """A template as a command uses it: the template and the parameters given with ``-p``."""

    template: Template
    params: dict[str, str]

    @property
    def needs_input(self) -> bool:
        """Whether there must be an input: the template sends it (no prompt) or uses $input."""
        tpl = self.template
        return not tpl.prompt or "input" in variables(tpl)

    def prompt(self, given: str) -> str:
        """The prompt to send for the input ``given`` (a UsageError for a missing parameter)."""
        tpl = self.template
        if not tpl.prompt:
            return given
        if not tpl.substitutes:
            filled = tpl.prompt.strip("\n")
        else:
            filled = self._fill(tpl.prompt, given).strip("\n")  # YAML's | keeps a last newline
            if "input" in variables(tpl):
                return filled
        return "\n\n".join(part for part in (filled, given.strip("\n")) if part.strip())

    def system(self, given: str | None = None) -> str | None:
        """The system prompt; ``$input`` in it is the input (left as it is without one)."""
        tpl = self.template
        if tpl.system is None or not tpl.substitutes:
            return tpl.system
        return self._fill(tpl.system, given)

    def check(self) -> None:
        """Fail now (before stdin is read or a browser starts) when a parameter is missing."""
        for text in (self.template.prompt, self.template.system):
            if text is not None and self.template.substitutes:
                self._fill(text, "")

    def _fill(self, text: str, given: str | None) -> str:
        values = {**self.template.defaults, **self.params}
        if given is not None:
            values["input"] = given.strip("\n")

        def one(match: re.Match[str]) -> str:
            if match["escaped"]:
                return "$"
            name = match["named"] or match["braced"]
            if name in values:
                return values[name]
            if name == "input":  # the system prompt's $input: the input, as llm fills it
                return match[0]
            raise self._missing(name)

        return _PLACEHOLDER.sub(one, text)

    def _missing(self, name: str) -> UsageError:
        tpl = self.template
        line = template_files.line_of(tpl.text, rf"\$(\{{{re.escape(name)}\}}|{re.escape(name)}\b)")
        return UsageError(
            f"{tpl.path}:{line}: the template {tpl.name!r} needs the parameter ${name}: "
            f"give -p {name} VALUE"
        )


def variables(template: Template) -> set[str]:
    """The ``$name`` parameters of a template's prompt and system prompt."""
    found: set[str] = set()
    for text in (template.prompt, template.system):
        for match in _PLACEHOLDER.finditer(text or ""):
            name = match["named"] or match["braced"]
            if name:
                found.add(name)
    return found


def pairs(params: Sequence[Sequence[str]] | None) -> dict[str, str]:
    """``-p NAME VALUE`` as given (each a pair: see :class:`.options.PairsCommand`)."""
    return {str(key): str(value) for key, value in params or ()}


def chosen(
    term: Terminal, name: str | None, params: Sequence[Sequence[str]] | None
) -> Applied | None:
    """``-t NAME`` and ``-p NAME VALUE``, read and checked; exit 2 for a bad or unknown
    template, or for ``-p`` without a template."""
    given = pairs(params)
    if name is None:
        if given:
            term.err("lmarena: -p/--param gives a template's parameters: use it with -t NAME")
            raise typer.Exit(2)
        return None
    with failures(term):
        applied = Applied(template_files.find(name), given)
        applied.check()
    if applied.template.ignored:
        term.info(
            f"lmarena: the template {name!r} sets model options arena.ai does not take; "
            f"ignored: {', '.join(applied.template.ignored)}"
        )
    return applied


def shape(term: Terminal, applied: Applied, given: str) -> str:
    """The prompt for the input ``given``; exit 2 when the template cannot make one."""
    with failures(term):
        text = applied.prompt(given)
    if not text.strip():
        term.err("lmarena: the prompt is empty")
        raise typer.Exit(2)
    return text


def output_format(term: Terminal, applied: Applied) -> Any:
    """The template's ``schema`` as ``--schema`` would give it (an OutputFormat), or None."""
    schema = applied.template.schema
    if schema is None:
        return None
    from ..client.content.structured import OutputFormat

    try:
        return OutputFormat("json_schema", schema, strict=True)
    except UsageError as error:
        line = template_files.line_of(
            applied.template.text, r"^\s*(\[schema\]|schema(_object)?\s*[:=])"
        )
        term.err(f"lmarena: {applied.template.path}:{line}: {error}")
        raise typer.Exit(2) from None


def save(term: Terminal, name: str, values: dict[str, Any]) -> None:
    """``ask --save NAME``: ``values`` (only a template's keys) written as ``NAME.yaml``."""
    from ..state.files import atomic_write

    if not _NAME.fullmatch(name):
        term.err(
            f"lmarena: --save {name!r}: a template's name is letters, digits, '.', '_' and '-' "
            "(not starting with '.' or '-')"
        )
        raise typer.Exit(2)
    data = {
        key: values[key]
        for key in template_files.OWN_KEYS
        if values.get(key) is not None and values.get(key) not in (False, {}, "")
    }
    if not data:
        term.err("lmarena: --save: nothing to save (give -s, --role, -m, a prompt, -x or --schema)")
        raise typer.Exit(2)
    folder = template_files.lmarena_dir()
    for other in (folder / f"{name}.yml", folder / f"{name}.toml"):
        if other.exists():
            term.err(f"lmarena: --save: the template {name!r} is already {other}; edit that one")
            raise typer.Exit(2)
    path = folder / f"{name}.yaml"
    try:
        atomic_write(path, _dump(data).encode("utf-8"), mode=0o644)
    except OSError as exc:
        term.err(f"lmarena: cannot write {path}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    term.info(f"saved the template {name!r} in {path}")


def _dump(data: dict[str, Any]) -> str:
    """YAML with multi-line strings as literal blocks, keys in the order given."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value.strip("\n") and value == value.rstrip(" ") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    dumped: str = yaml.dump(
        data, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return dumped


# --- lmarena templates ---------------------------------------------------------------------------

templates_app = typer.Typer(
    name="templates",
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@templates_app.callback(invoke_without_command=True)
def templates(ctx: typer.Context, no_color: NoColorOpt = False) -> None:
    """The templates -t can use, one per line: name, source, description (tab-separated).

    Sources, in the order a name is looked up: lmarena (~/.config/lmarena/templates/*.yaml,
    *.toml), llm (its templates folder), fabric (~/.config/fabric/patterns/NAME/system.md).
    A name in more than one place is lmarena's (else llm's): the source says what it hides.

    \b
      lmarena templates
      lmarena templates show NAME
      lmarena ask --save NAME -s "..." 'Summarise: $input'
      cat article.txt | lmarena ask -t extract_wisdom
    """
    if ctx.invoked_subcommand is not None:
        return
    term = Terminal(no_color=no_color)
    winners: dict[str, template_files.Place] = {}
    hidden: dict[str, list[str]] = {}
    for place in template_files.places():
        if place.name in winners:
            hidden[place.name].append(place.source)
        else:
            winners[place.name], hidden[place.name] = place, []
    lines = []
    for name in sorted(winners):
        place = winners[name]
        try:
            summary = template_files.load(place).summary()
        except UsageError as error:
            summary = f"(cannot be used: {error})"
        source = place.source
        if hidden[name]:
            source += f" (hides {', '.join(hidden[name])})"
        lines.append(f"{name}\t{source}\t{summary}\n")
    term.out("".join(lines))


@templates_app.command()
def show(
    name: Annotated[str, typer.Argument(help="The template's name.", metavar="NAME")],
    quiet: QuietOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Print a template's file as it is, even one that cannot be used (Fabric: system.md, then
    user.md when it has one); its source and path go to stderr."""
    term = Terminal(quiet=quiet, no_color=no_color)
    place = next((p for p in template_files.places() if p.name == name), None)
    with failures(term):
        if place is None:
            template_files.find(name)  # the error naming the folders looked in
        assert place is not None
        text = template_files.read(place.path)
        user = place.path.with_name("user.md")
        if place.source == "fabric" and user.is_file():
            text = f"{text}\n==> {user} <==\n{template_files.read(user)}"
    term.info(f"{name}: {place.source}, {place.path}")
    term.out(text if text.endswith("\n") or not text else text + "\n")


__all__ = [
    "Applied",
    "chosen",
    "output_format",
    "pairs",
    "save",
    "shape",
    "templates_app",
    "variables",
]
