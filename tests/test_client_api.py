"""One interface for the in-process client and the kept server's (``ClientApi``), and the kept
server's requests as types (``wire_requests``) that both sides read and write.

The endpoint runs in this process on a Unix socket, with a ``Client`` of the fake arena on the
browser's stand-in; the ``RemoteClient`` talks to it as a command would.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lmarena_cli.cli.advice import say as cli_words
from lmarena_cli.client.api import ChatApi, ChatsApi, ClientApi
from lmarena_cli.client.client import Client
from lmarena_cli.client.conversation.chats import ChatSession
from lmarena_cli.client.kept import wire
from lmarena_cli.client.kept.remote import RemoteChatSession, RemoteClient
from lmarena_cli.client.kept.remote_stream import RemoteStream
from lmarena_cli.client.kept.wire_requests import (
    OPS,
    ChatState,
    Download,
    Hello,
    Incoming,
    ListModels,
    OpenChat,
    Request,
    Retry,
    Send,
    Stop,
    Unknown,
    read_request,
    request_line,
)
from lmarena_cli.client.reply import TextStream
from lmarena_cli.client.turn.exchange import ReplyStream
from lmarena_cli.errors import ADVICE_SLOT, Advice, ErrorKind, InputError, RateLimited
from lmarena_cli.server.private import PrivateEndpoint
from lmarena_cli.site import facts
from lmarena_cli.site.models import Model
from tests.fake_arena import FakeArena
from tests.helpers.clients import ClientFactory

pytestmark = pytest.mark.timeout(60)

MODEL = "gemini-3-pro"


# The checks of the interface are static: mypy (scripts/check) refuses these functions when
# Client or RemoteClient, Chats or RemoteChats, ChatSession or RemoteChatSession stop matching
# it. The tests below call them, so that they are real code, not dead annotations.


def as_api(client: Client, remote: RemoteClient) -> list[ClientApi]:
    """Both are a ClientApi, their chats a ChatsApi."""
    chats: list[ChatsApi] = [client.chats, remote.chats]
    assert len(chats) == 2
    return [client, remote]


def chats_as_api(local: ChatSession, remote: RemoteChatSession) -> list[ChatApi]:
    """Both conversations are a ChatApi; a streamed answer of either is a TextStream."""
    streams: list[type[TextStream]] = [RemoteStream, ReplyStream]
    assert all(issubclass(cls, TextStream) for cls in streams)
    return [local, remote]


def a_state() -> ChatState:
    model = Model(
        id="m-1",
        name=MODEL,
        organization="google",
        capabilities={"inputCapabilities": {"text": True}},
        user_selectable=True,
        rank=1,
        raw={},
    )
    return ChatState(
        mode=facts.Mode.DIRECT,
        model=model,
        id="0190d5c6-0000-7000-8000-000000000001",
        system="be brief",
        answer_id="a-1",
        pending_battle=("a", "b"),
    )


@pytest.mark.parametrize(
    "request_",
    [
        Hello(touch=True),
        Stop(),
        OpenChat(how="resume", chat_id="c-1", model=MODEL, versus="other"),
        OpenChat(how="create", battle=True, system="s"),
        Send(chat=a_state(), prompt="hi", images=[{"path": "/x.png"}], timeout=5.0),
        Retry(chat=a_state(), timeout=None, rate_limit_wait=30.0),
        ListModels(refresh=True),
        Download(url="https://example.invalid/i.png"),
    ],
    ids=lambda r: type(r).__name__,
)
def test_each_request_reads_back_as_itself_with_its_op_and_the_wire_version(
    request_: Request,
) -> None:
    raw = request_line(request_)
    message = wire.parse(raw)
    assert message["op"] == OPS[type(request_)] and message["wire"] == wire.WIRE_VERSION
    assert read_request(raw) == Incoming(request_, debug=False)
    assert read_request(request_line(request_, debug=True)) == Incoming(request_, debug=True)


def test_a_request_the_server_does_not_know_or_cannot_read_is_unknown() -> None:
    assert read_request(b'{"op": "dance"}\n') == Incoming(Unknown("dance"))
    malformed = read_request(b'{"op": "send", "prompt": "no chat"}\n').request
    assert isinstance(malformed, Unknown) and malformed.op == "send" and malformed.reason
    with pytest.raises(ValueError):
        read_request(b"not json\n")


def test_a_chat_state_is_the_same_on_both_sides() -> None:
    state = a_state()
    assert ChatState.from_json(state.to_json()) == state
    remote = RemoteChatSession.__new__(RemoteChatSession)
    state.apply(remote)
    assert ChatState.of(remote) == state


@pytest.fixture
async def endpoint(client_factory: ClientFactory) -> AsyncIterator[tuple[Client, Path]]:
    client = client_factory()
    await client.bootstrap()
    folder = Path(tempfile.mkdtemp(prefix="lm-api-", dir="/tmp"))  # a short socket path
    path = folder / "s"
    stops: list[int] = []
    served = PrivateEndpoint(
        client, fingerprint="test", on_stop=lambda: stops.append(1), info=lambda: {}
    )
    await served.listen(path)
    try:
        yield client, path
    finally:
        await served.close(grace=1.0)
        shutil.rmtree(folder, ignore_errors=True)


async def raw_request(path: Path, line: bytes) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(line)
    await writer.drain()
    answers = [wire.parse(raw) async for raw in reader if raw.endswith(b"\n")]
    writer.close()
    return answers


async def test_the_kept_servers_client_and_the_library_answer_alike(
    endpoint: tuple[Client, Path], arena: FakeArena
) -> None:
    client, path = endpoint
    remote = RemoteClient(client.settings, path)
    local_api, remote_api = as_api(client, remote)
    assert [m.name for m in await remote_api.list_models()] == [
        m.name for m in await local_api.list_models()
    ]
    chat = await remote_api.chats.create(MODEL, system="be brief")
    assert isinstance(chat, RemoteChatSession) and chat.id is None
    reply = await chat.send("hello")
    # The system prompt travelled with the conversation's state and was folded in, as locally.
    assert reply.text == "Echo (turn 1): [System]\nbe brief\n\n[User]\nhello"
    assert chat.id == reply.evaluation_session_id
    stream = await chat.send("again", stream=True)
    assert isinstance(stream, RemoteStream)
    assert "".join([delta async for delta in stream]) == "Echo (turn 2): again"
    assert chat.answer_id == stream.reply.a.message_id
    resumed = await remote.chats.resume(str(chat.id))
    local = await client.chats.resume(str(chat.id))
    both = chats_as_api(local, resumed)
    assert [(one.id, one.mode) for one in both] == [(chat.id, facts.Mode.DIRECT)] * 2
    assert [one.model.name if one.model else None for one in both] == [MODEL] * 2
    await remote.close()


async def test_the_endpoint_says_hello_with_its_wire_version_and_refuses_unknown_requests(
    endpoint: tuple[Client, Path],
) -> None:
    _, path = endpoint
    (hello,) = await raw_request(path, request_line(Hello()))
    assert hello["t"] == "hello" and hello["wire"] == wire.WIRE_VERSION
    assert hello["fingerprint"] == "test"
    (unknown,) = await raw_request(path, b'{"op": "dance"}\n')
    error = wire.error_from_json(unknown["error"])
    assert isinstance(error, InputError) and "does not know the request 'dance'" in str(error)
    (malformed,) = await raw_request(path, b'{"op": "send", "prompt": "no chat"}\n')
    error = wire.error_from_json(malformed["error"])
    assert isinstance(error, InputError) and "could not read the request 'send'" in str(error)


def test_an_errors_advice_crosses_the_socket_so_the_command_says_it_as_in_process() -> None:
    flagged = RateLimited(
        f"not sending: the account is flagged (at 10:00).{ADVICE_SLOT} Otherwise at 10:20",
        retry_after=1200.0,
        kind=ErrorKind.ACCOUNT_FLAGGED,
        advice=Advice.PASS_CHECK,
    )
    back = wire.error_from_json(wire.error_to_json(flagged))
    assert isinstance(back, RateLimited) and back.advice == Advice.PASS_CHECK
    assert cli_words(back) == cli_words(flagged)
    assert "`lmarena doctor --clear-flag`. Otherwise at 10:20" in cli_words(back)
    assert str(back) == "not sending: the account is flagged (at 10:00). Otherwise at 10:20"
    # A server of a later version may send advice this command does not know: none is said.
    data = {**wire.error_to_json(flagged), "advice": "learn_to_fly"}
    unknown = wire.error_from_json(data)
    assert isinstance(unknown, RateLimited) and unknown.advice is None
