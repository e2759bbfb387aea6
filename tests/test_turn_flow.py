"""One turn's phases and transitions (:class:`TurnFlow`), without I/O: the hold, its one release,
the battle it finds, and the table that refuses any other move."""

from __future__ import annotations

import pytest

from lmarena_cli.client.reply import SkippedBattle
from lmarena_cli.client.turn.flow import (
    HOLD_DUE,
    TRANSITIONS,
    BattleSeen,
    IllegalTransition,
    Phase,
    ReadEnd,
    TurnFlow,
)
from lmarena_cli.errors import IncompleteAnswer
from lmarena_cli.site.events import Finish, Heartbeat, RawEvent, TextDelta

IDS = ("a-id", "b-id")


def held_flow(hold: float = 1.0) -> tuple[TurnFlow, list[tuple[str, str] | None]]:
    told: list[tuple[str, str] | None] = []
    flow = TurnFlow(watch=True, hold=hold, on_pending=told.append)
    flow.accepted(IDS)
    return flow, told


def phase(flow: TurnFlow) -> Phase:
    """The flow's phase now (a call, so that a type checker does not keep an earlier one)."""
    return flow.phase


def test_every_phase_is_reached_and_only_the_ends_lead_nowhere() -> None:
    sources = {start for start, _ in TRANSITIONS}
    targets = {end for _, end in TRANSITIONS}
    assert targets == set(Phase)
    assert set(Phase) - sources == {Phase.DONE, Phase.FAILED}


def test_a_move_the_table_does_not_have_is_refused() -> None:
    flow = TurnFlow(watch=False, hold=1.0)
    with pytest.raises(IllegalTransition, match="from sending to done"):
        flow.move(Phase.DONE)
    assert phase(flow) is Phase.SENDING and flow.history == [Phase.SENDING]


def test_a_single_model_answer_is_held_and_released_once_its_hold_is_over() -> None:
    flow, _ = held_flow(hold=1.0)
    assert phase(flow) is Phase.HOLDING and flow.deadline() is None  # no content yet
    raw = RawEvent(side="a", code="2", value=[])
    assert flow.pass_on(raw, now=10.0) == []
    first = TextDelta(side="a", text="one ")
    assert flow.pass_on(first, now=10.0) == []
    assert flow.deadline() == 11.0
    assert flow.pass_on(Heartbeat(side="a"), now=10.5) == []
    second = TextDelta(side="a", text="two")
    assert flow.pass_on(second, now=11.0) == [raw, first, second]  # in order, all at once
    assert phase(flow) is Phase.STREAMING and flow.deadline() is None
    third = TextDelta(side="a", text="three")
    assert flow.pass_on(third, now=11.1) == [third]


@pytest.mark.parametrize(
    "end",
    [Finish(side="a", finish_reason="stop", usage=None), HOLD_DUE, ReadEnd(), "failure"],
    ids=["finish", "hold due", "end of body", "failure"],
)
def test_the_hold_ends_at_a_finish_its_time_the_end_or_a_failure(end: object) -> None:
    flow, _ = held_flow()
    text = TextDelta(side="a", text="held")
    assert flow.pass_on(text, now=0.0) == []
    step = ReadEnd(IncompleteAnswer("cut")) if end == "failure" else end
    released = flow.pass_on(step, now=0.1)  # type: ignore[arg-type]
    expected = [text, step] if isinstance(step, Finish) else [text]
    assert released == expected
    assert flow.history == [Phase.SENDING, Phase.HOLDING, Phase.STREAMING]


def test_a_b_line_while_holding_drops_the_held_text_and_makes_the_battle_pending() -> None:
    flow, told = held_flow()
    assert flow.pass_on(TextDelta(side="a", text="anonymous"), now=0.0) == []
    with pytest.raises(BattleSeen) as seen:
        flow.pass_on(Heartbeat(side="b"), now=0.1)  # any b line, a keep-alive too
    assert seen.value.shown is False
    assert phase(flow) is Phase.BATTLE_FOUND and flow.pending_battle == IDS and told == [IDS]
    skipped = SkippedBattle(*IDS, "new-id", answered=True)
    flow.skipping(skipped)
    assert flow.pending_battle is None and told == [IDS, None]
    flow.accepted(IDS)  # the skip's answer: passed on at once, b lines too, never held
    assert phase(flow) is Phase.SKIPPING
    answer = TextDelta(side="a", text="chosen")
    assert flow.pass_on(answer, now=0.2) == [answer]
    assert flow.pass_on(TextDelta(side="b", text="x"), now=0.3) == [TextDelta(side="b", text="x")]
    flow.move(Phase.DONE)
    assert flow.skipped == skipped and flow.take_announcement() is None


def test_a_b_line_after_the_release_says_the_text_was_shown() -> None:
    flow, _ = held_flow(hold=0.5)
    flow.pass_on(TextDelta(side="a", text="shown"), now=0.0)
    assert flow.pass_on(HOLD_DUE, now=0.5) == [TextDelta(side="a", text="shown")]
    with pytest.raises(BattleSeen) as seen:
        flow.pass_on(TextDelta(side="b", text="b"), now=0.9)
    assert seen.value.shown is True
    assert phase(flow) is Phase.BATTLE_FOUND


def test_other_chats_and_a_zero_hold_stream_at_once() -> None:
    for flow in (TurnFlow(watch=False, hold=1.0), TurnFlow(watch=True, hold=0.0)):
        flow.accepted(IDS)
        assert phase(flow) is Phase.STREAMING and flow.deadline() is None
        text = TextDelta(side="a", text="now")
        assert flow.pass_on(text, now=0.0) == [text]
    side_by_side = TurnFlow(watch=False, hold=1.0)
    side_by_side.accepted(IDS)
    b_text = TextDelta(side="b", text="b")
    assert side_by_side.pass_on(b_text, now=0.0) == [b_text]  # no battle: b is a model here


def test_an_earlier_battle_is_skipped_once_then_the_turn_is_sent_and_announced() -> None:
    told: list[tuple[str, str] | None] = []
    flow = TurnFlow(watch=True, hold=1.0, pending_battle=IDS, on_pending=told.append)
    assert flow.may_unstick()
    flow.found_battle(IDS)
    earlier = SkippedBattle(*IDS, "new", answered=False, earlier_turn=True)
    flow.skipping(earlier, earlier=True)
    flow.move(Phase.SENDING)
    assert not flow.may_unstick() and told == [IDS, None]
    flow.accepted(("a2", "b2"))
    assert phase(flow) is Phase.HOLDING
    assert flow.take_announcement() == earlier and flow.take_announcement() is None


def test_a_failed_skip_keeps_the_battle_pending_and_fail_ends_any_phase() -> None:
    flow, told = held_flow()
    with pytest.raises(BattleSeen):
        flow.pass_on(TextDelta(side="b", text="b"), now=0.0)
    flow.fail()  # the skip was refused
    assert phase(flow) is Phase.FAILED and flow.ended and flow.pending_battle == IDS
    assert told == [IDS]
    flow.fail()  # already ended: nothing changes
    assert flow.history[-2:] == [Phase.BATTLE_FOUND, Phase.FAILED]
