"""``-s/--system`` and ``--role``: which system prompt and model a new conversation starts with.

A role is a ``[roles.NAME]`` table of the config file (:class:`~lmarena_cli.settings.Role`): a
system prompt and, optionally, a model. What wins: ``-m`` over the role's model over
``LM_ARENA_MODEL`` and the config file's ``model``; ``-s`` over the role's system prompt. A
template (``-t``) comes after both: its system prompt and model apply when neither the command
line nor a role gives one, and a note on stderr says when the command line's replace its system
prompt. The
system prompt goes to ``client.chats.create(system=...)``, which folds it into the first prompt
the way ``lmarena serve`` folds a system message. A continued conversation (``-c``, ``--resume``)
already has its history on the site: the system prompt is ignored, saying so on stderr.

Reads the config file only: completing ``--role`` never imports the client.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from ..errors import UsageError
from ..settings import Role, Settings
from .terminal import Terminal


@dataclass(frozen=True)
class Choice:
    """What ``-s``/``--role``/``-m`` come to: the system prompt and the model flag."""

    system: str | None
    #: The model to ask for, when ``-m`` or the role names one (None: the settings' default).
    model: str | None
    role: Role | None = None


@dataclass(frozen=True)
class FromTemplate:
    """What a template (``-t``) offers: its system prompt (filled in) and model."""

    name: str
    system: str | None
    model: str | None


def choose(
    term: Terminal,
    settings: Settings,
    *,
    system: str | None,
    role_name: str | None,
    model: str | None,
    continued: bool,
    template: FromTemplate | None = None,
) -> Choice:
    """Resolve the options; an unknown role exits 2 naming the known ones.

    ``continued``: the command continues a conversation (``-c``/``--resume``), so a system
    prompt is ignored, with a note on stderr; the role's model is not applied either (the
    conversation keeps its own).
    """
    role = None
    if role_name is not None:
        try:
            role = settings.role(role_name)
        except UsageError as error:
            term.err(f"lmarena: {error}")
            raise typer.Exit(error.exit_code) from None
    if system is not None and not system.strip():
        term.err("lmarena: -s/--system is empty; give the system prompt's text")
        raise typer.Exit(2)
    chosen, what = system, "-s/--system"
    if system is None and role is not None:
        chosen, what = role.system, f"the role {role_name!r}"
    if template is not None and template.system is not None:
        if chosen is None:
            chosen, what = template.system, f"the template {template.name!r}'s system prompt"
        elif not continued:
            term.err(
                f"lmarena: {what} given: the template {template.name!r}'s system prompt is not "
                "used (the command line wins)"
            )
    if continued:
        if chosen is not None:
            term.err(
                f"lmarena: {what} ignored: a continued conversation keeps the history it has "
                "on the site (a system prompt applies to a new conversation only)"
            )
        return Choice(system=None, model=model, role=role)
    fallback = template.model if template else None
    return Choice(
        system=chosen, model=model or (role.model if role else None) or fallback, role=role
    )


def complete_role(incomplete: str) -> list[str]:
    """Role names from the config file: offline, and silent when there is none or it is bad."""
    try:
        roles = Settings.load().roles
    except Exception:  # completion must never print a traceback into the user's shell
        return []
    return [role.name for role in roles if role.name.startswith(incomplete)]


__all__ = ["Choice", "FromTemplate", "choose", "complete_role"]
