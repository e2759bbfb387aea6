"""``lmarena models``: the model names, one per line, or as JSON with their capabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .catalog import cached_models
from .notices import shown_on
from .options import DebugOpt, NoColorOpt, QuietOpt
from .runtime import failures, load_settings, make_client, run
from .terminal import Terminal

if TYPE_CHECKING:
    from ..site.models import Model


def models(
    json_: Annotated[
        bool, typer.Option("--json", help="One JSON array with ids and capabilities.")
    ] = False,
    vision: Annotated[bool, typer.Option("--vision", help="Only models that take images.")] = False,
    image_output: Annotated[
        bool, typer.Option("--image-output", help="Only models that generate images.")
    ] = False,
    search: Annotated[bool, typer.Option("--search", help="Only search models.")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Rediscover from the site.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """List the models, one name per line (from the cache when it has them)."""
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = load_settings(term)

    found = None
    if not refresh:
        with failures(term, debug=debug), shown_on(term):
            found = cached_models(settings, warn=term.info)
    if found is None:

        async def fetch() -> list[Model]:
            client = make_client(settings, start=False)  # a kept server if one runs
            try:
                with term.spinner("starting the browser…"):
                    return await client.list_models(refresh=refresh)
            finally:
                await client.close()

        found = run(term, fetch, debug=debug)
    chosen = [
        m
        for m in found
        if (not vision or m.takes_images)
        and (not image_output or m.outputs_images)
        and (not search or m.searches)
    ]
    with failures(term, debug=debug):
        if json_:
            import orjson

            text = orjson.dumps([m.to_json() for m in chosen], option=orjson.OPT_INDENT_2).decode()
            term.out(text + "\n")
        else:
            term.out("".join(m.name + _cooldown(m) + "\n" for m in chosen))


def _cooldown(model: Model) -> str:
    """A model the site rate-limits for this account (its row's ``rateLimitedUntil``, protocol
    §15.3) is marked after its name, until then."""
    import time

    until = model.rate_limited_until
    if until is None or until <= time.time():
        return ""
    from ..client.session.pacing import local_time

    return f"  (rate-limited until {local_time(until)})"
