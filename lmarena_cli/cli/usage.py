"""A turn's usage for ``ask --usage``, ``ask --json`` and ``chat``'s ``/usage``.

The site reports no token counts (or, rarely, its own): the counts are the site's when it sends
them, else :func:`~lmarena_cli.client.content.usage.estimate_tokens` of the prompt as it was sent (a
system prompt folded into a new conversation's first turn included) and of what the models said
(text and reasoning, both sides of a side-by-side or battle turn): the estimate ``serve`` reports.
The times are the library's (``Reply.timings``): from the send to the answer's first text or
image (``first_byte_seconds``) and to its end (``total_seconds``).

``account`` is what this machine already knows of the account, read from the state directory
(:meth:`~lmarena_cli.client.session.pacing.Pacing.status`: a flag or wait the site asked for,
today's flags, today's sends and their budget): no request is made for it. The balance the site
shows (``/api/billing/balance``) takes a request, so it is not here; ``lmarena doctor`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..site.prompts import fold_system

if TYPE_CHECKING:
    from ..client.reply import Reply
    from ..settings import Settings


def turn_usage(settings: Settings, sent: str, reply: Reply) -> dict[str, Any]:
    """The ``usage_report`` object of ``ask --json``: counts, times and the account's state
    (its ``usage`` stays the site's own object)."""
    from ..client.content.usage import estimate_tokens, site_counts
    from ..client.session.pacing import Pacing

    site_in, site_out = site_counts(reply.usage)
    spoken = "".join(answer.text + answer.reasoning for answer in reply.answers)
    first = reply.timings.get("first_token")
    total = reply.timings.get("total")
    return {
        "input_tokens": site_in or estimate_tokens(sent),
        "output_tokens": site_out or estimate_tokens(spoken),
        "estimated": not (site_in and site_out),
        "first_byte_seconds": None if first is None else round(first, 3),
        "total_seconds": None if total is None else round(total, 3),
        "account": Pacing(settings).status().to_json(),
    }


def sent_prompt(system: str | None, prompt: str, *, new: bool) -> str:
    """The prompt as the library sends it: a new conversation's first turn folds the system
    prompt in (the one code path, :func:`~lmarena_cli.site.prompts.fold_system`)."""
    return fold_system(system if new else None, prompt)


def describe(usage: dict[str, Any]) -> str:
    """Two lines for people: the counts and times, then the account's state."""
    mark = "~" if usage["estimated"] else ""
    how = "estimated" if usage["estimated"] else "the site's count"
    line = f"usage: {mark}{usage['input_tokens']} tokens in, {mark}{usage['output_tokens']} out "
    line += f"({how}); first byte {_seconds(usage['first_byte_seconds'])}, "
    line += f"total {_seconds(usage['total_seconds'])}"
    return line + "\n" + "account: " + _account(usage["account"])


class UsageNote:
    """A turn's usage, made once from its reply and kept (``--json``'s object, then
    ``--usage``'s lines); ``sent`` is the prompt as sent."""

    def __init__(self, settings: Settings, sent: str) -> None:
        self.settings, self.sent = settings, sent
        self.last: dict[str, Any] | None = None

    def __call__(self, reply: Reply) -> dict[str, Any]:
        if self.last is None:
            self.last = turn_usage(self.settings, self.sent, reply)
        return self.last


@dataclass
class Totals:
    """A chat session's usage: its turns, their tokens and seconds (``/usage``)."""

    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0

    def add(self, usage: dict[str, Any]) -> None:
        self.turns += 1
        self.input_tokens += int(usage["input_tokens"])
        self.output_tokens += int(usage["output_tokens"])
        self.seconds += float(usage["total_seconds"] or 0.0)

    def describe(self) -> str:
        return (
            f"session: {self.turns} turn{'' if self.turns == 1 else 's'}, "
            f"~{self.input_tokens} tokens in, ~{self.output_tokens} out, "
            f"{self.seconds:.2f} s answering"
        )


def _seconds(value: float | None) -> str:
    return "not known" if value is None else f"{value:.2f} s"


def _account(account: dict[str, Any]) -> str:
    """AccountStatus.describe()'s words, from its JSON (the same facts, fewer of them)."""
    if account["waiting"]:
        what = "FLAGGED" if account["flagged"] else "waiting"
        state = f"{what}: {account['reason']}"
    else:
        state = "not flagged, no wait remembered"
    budget = account["daily_sends"]
    sends = f"{account['sends_today']}" + (f" of {budget}" if budget else "")
    return f"{state}; today's sends (UTC): {sends}"


__all__ = ["Totals", "UsageNote", "describe", "sent_prompt", "turn_usage"]
