"""``ask --usage``, ``ask --json``'s ``usage`` and ``chat``'s ``/usage``: the estimated tokens in
and out (the estimate ``serve`` reports), the times, and the account's state this machine knows.

Real ``lmarena`` subprocesses on the browser's stand-in against the fake arena.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from lmarena_cli.client.content.usage import estimate_tokens
from lmarena_cli.site.prompts import fold_system
from tests.fake_arena import FakeArena, Reply
from tests.helpers.standin_cli import StandInCli

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
USAGE = re.compile(
    r"usage: ~(\d+) tokens in, ~(\d+) out \(estimated\); "
    r"first byte (\d+\.\d\d) s, total (\d+\.\d\d) s"
)
SITE_USAGE = re.compile(r"usage: (\d+) tokens in, (\d+) out \(the site's count\); first byte ")
#: An answer whose finish line carries no token counts, as the site's usually does not.
UNCOUNTED = Reply(usage={"cachedTokens": 0})


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


def usage_lines(stderr: str) -> list[tuple[int, int, float, float]]:
    return [(int(m[1]), int(m[2]), float(m[3]), float(m[4])) for m in USAGE.finditer(stderr)]


async def test_ask_usage_prints_tokens_times_and_the_account_on_stderr_only(
    cli: StandInCli, arena: FakeArena, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LM_ARENA_DAILY_SENDS", "5")
    arena.enqueue(UNCOUNTED)
    prompt = "how many tokens is this question, roughly?"
    done = await cli("ask", "--no-stdin", "--usage", prompt)
    assert done.returncode == 0, done.stderr
    answer = f"Echo (turn 1): {prompt}"
    assert done.stdout == answer + "\n"  # stdout carries the answer only
    [(tokens_in, tokens_out, first, total)] = usage_lines(done.stderr)
    assert (tokens_in, tokens_out) == (estimate_tokens(prompt), estimate_tokens(answer))
    assert 0 < first <= total < 30
    lines = done.stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("usage: "))
    assert lines[at + 1] == "account: not flagged, no wait remembered; today's sends (UTC): 1 of 5"
    assert lines[at + 2].startswith("conversation: ")

    plain = await cli("ask", "--no-stdin", "-c", "and again")
    assert plain.returncode == 0 and "usage: " not in plain.stderr
    # The fake's finish line counts tokens here (len // 4): the site's counts win, without "~".
    again = await cli("ask", "--no-stdin", "-c", "--usage", "once more")
    assert "account: not flagged, no wait remembered; today's sends (UTC): 3 of 5" in again.stderr
    site = SITE_USAGE.search(again.stderr)
    assert site is not None and usage_lines(again.stderr) == []
    reply = "Echo (turn 3): once more"
    assert (int(site[1]), int(site[2])) == (len("once more") // 4, len(reply) // 4)


async def test_ask_json_carries_the_usage_object_with_the_system_prompt_counted(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(UNCOUNTED)
    done = await cli("ask", "--no-stdin", "--json", "-s", "Answer in French.", "what is a monad?")
    assert done.returncode == 0, done.stderr
    assert "usage: " not in done.stderr  # --json alone prints no usage lines
    data = orjson.loads(done.stdout)
    usage = data["usage_report"]
    assert data["usage"] == {"cachedTokens": 0}  # the site's own object, as before
    sent = fold_system("Answer in French.", "what is a monad?")
    assert usage["input_tokens"] == estimate_tokens(sent) > estimate_tokens("what is a monad?")
    assert usage["output_tokens"] == estimate_tokens(data["text"])
    assert usage["estimated"] is True
    assert 0 < usage["first_byte_seconds"] <= usage["total_seconds"]
    assert usage["account"] == {
        "flagged": False,
        "waiting": False,
        "reason": None,
        "since": None,
        "until": None,
        "flags_today": 0,
        "sends_today": 1,
        "daily_sends": None,
    }
    lines = await cli("ask", "--no-stdin", "--jsonl", "-c", "more")
    last = orjson.loads(lines.stdout.splitlines()[-1])
    assert last["type"] == "reply" and last["usage_report"]["account"]["sends_today"] == 2


async def test_ask_usage_with_extract_still_reports(cli: StandInCli, arena: FakeArena) -> None:
    answer = "```sh\necho hi\n```"
    arena.enqueue(Reply(text=answer, usage={"cachedTokens": 0}))
    extracted = await cli("ask", "--no-stdin", "-x", "--usage", "a shell one-liner")
    assert extracted.returncode == 0, extracted.stderr
    assert extracted.stdout == "echo hi\n"
    [(tokens_in, tokens_out, _, _)] = usage_lines(extracted.stderr)
    assert (tokens_in, tokens_out) == (
        estimate_tokens("a shell one-liner"),
        estimate_tokens(answer),
    )


async def test_chat_usage_shows_the_last_turn_and_the_session_totals(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(UNCOUNTED)
    arena.enqueue(UNCOUNTED)
    run = await cli("chat", stdin="/usage\nhi\n/usage\nsecond question\n/usage\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Echo (turn 1): hi\nEcho (turn 2): second question\n"
    assert "no turn yet: /usage shows the last turn's usage once one is answered" in run.stderr
    counts = usage_lines(run.stderr)
    assert [(i, o) for i, o, _, _ in counts] == [
        (estimate_tokens("hi"), estimate_tokens("Echo (turn 1): hi")),
        (estimate_tokens("second question"), estimate_tokens("Echo (turn 2): second question")),
    ]
    totals = [line for line in run.stderr.splitlines() if line.startswith("session: ")]
    tokens_in = counts[0][0] + counts[1][0]
    tokens_out = counts[0][1] + counts[1][1]
    assert totals[0].startswith(
        f"session: 1 turn, ~{counts[0][0]} tokens in, ~{counts[0][1]} out, "
    )
    assert totals[1].startswith(f"session: 2 turns, ~{tokens_in} tokens in, ~{tokens_out} out, ")
    assert re.fullmatch(r"session: .* out, \d+\.\d\d s answering", totals[1])
    assert "account: not flagged, no wait remembered; today's sends (UTC): 2" in run.stderr
    assert len(arena.stream_requests()) == 2  # /usage asked the site for nothing
