"""ChatKitFunction's OpenAI client sends ``input`` and ``tools`` without the SDK's walk over them
(chat/responses_client.py): the model must receive exactly what the SDK would have sent.

Two proofs: the SDK's types under those two arguments declare nothing the walk would change (no
alias, no format: checked over the whole tree, so a new SDK version that adds one fails here),
and a real conversation's model calls (photo, PDF, tool calls, a task widget, several turns),
recorded as the agent made them, reach the Responses stand-in with the same JSON when replayed
through the SDK's own client.
"""

from __future__ import annotations

import asyncio
import copy
import typing
from functools import cached_property
from typing import Annotated, Any

import openai
import pytest
import typing_extensions
from chatkit_backend.chat import server
from chatkit_backend.chat.responses_client import AS_GIVEN, AsGivenResponses, ResponsesClient, as_given
from openai._utils._transform import PropertyInfo
from openai.resources.responses import AsyncResponses
from openai.types.responses import response_create_params

from local.standins.openai import FakeResponses, call, last_tool_output, text
from tests.functions.test_chatkit_attachments import PDF, PNG, create_thread_with, message_with
from tests.support.chatkit_app import attach, send, user_message


def renames_or_formats(annotation: Any) -> list[str]:
    """Every place under ``annotation`` where the SDK's walk would change a value: a key alias or
    a format (dates, files), as (TypedDict.field, what)."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(current: Any, where: str) -> None:
        if id(current) in seen:
            return
        seen.add(id(current))
        if typing_extensions.get_origin(current) is Annotated:
            inner, *metadata = typing_extensions.get_args(current)
            for info in metadata:
                if isinstance(info, PropertyInfo) and (info.alias or info.format):
                    found.append(f"{where}: alias={info.alias!r} format={info.format!r}")
            walk(inner, where)
        elif typing_extensions.is_typeddict(current):
            for name, member in typing_extensions.get_type_hints(current, include_extras=True).items():
                walk(member, f"{current.__name__}.{name}")
        else:
            for argument in typing_extensions.get_args(current):
                if not isinstance(argument, (str, int, bool)):  # Literal values are leaves
                    walk(argument, where)

    walk(annotation, "")
    return found


class _Planted(typing_extensions.TypedDict, total=False):
    when: Annotated[str, PropertyInfo(format="iso8601")]
    from_: Annotated[str, PropertyInfo(alias="from")]


def test_no_type_under_input_or_tools_renames_or_formats() -> None:
    hints = typing_extensions.get_type_hints(
        response_create_params.ResponseCreateParamsBase, include_extras=True
    )
    for name in AS_GIVEN:
        assert renames_or_formats(hints[name]) == [], name
    # The walk does find them where they are (a union of lists of TypedDicts, as input is).
    planted = typing.Union[str, typing.List[typing.Union[_Planted, dict]]]  # noqa: UP006, UP007 - the SDK's own spelling
    assert renames_or_formats(planted) == [
        "_Planted.when: alias=None format='iso8601'",
        "_Planted.from_: alias='from' format=None",
    ]


def test_only_lists_move_and_extra_body_is_kept() -> None:
    tools = [{"type": "function", "name": "list_tasks"}]
    assert as_given({"model": "m", "input": "Hi"}) == {"model": "m", "input": "Hi"}
    assert as_given({"model": "m", "input": [], "tools": tools, "extra_body": {"store": False}}) == {
        "model": "m",
        "extra_body": {"store": False, "input": [], "tools": tools},
    }


def test_the_model_receives_what_the_sdk_would_have_sent(
    app: Any, fake: FakeResponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[dict[str, Any]] = []

    class Recorded(AsGivenResponses):
        async def create(self, **arguments: Any) -> Any:
            made.append(copy.deepcopy(arguments))
            return await super().create(**arguments)

    class Recording(ResponsesClient):
        @cached_property
        def responses(self) -> AsyncResponses:
            return Recorded(self)

    monkeypatch.setattr(server, "ResponsesClient", Recording)
    photo = attach(app, "list.png", "image/png", PNG)
    plan = attach(app, "plan.pdf", "application/pdf", PDF)
    tasks = lambda request: text(
        f"You have {len(last_tool_output(request)['tasks'])} tasks.", pieces=2, pause=0
    )
    fake.script(
        call("add_task", title="Buy milk"),
        text("Added it.", pieces=1, pause=0),
        call("list_tasks"),
        tasks,
        text("Bye.", pieces=1, pause=0),
    )
    thread_id, _ = create_thread_with(app, message_with("Add what is on these.", photo["id"], plan["id"]))
    for words in ("What is on my list?", "Thanks!"):
        response = send(
            app,
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_message(words)},
            },
        )
        assert response.status_code == 200, response.text
    sent = list(fake.requests)
    assert len(made) == len(sent) == 5
    kinds = {part.get("type") for request in sent for item in request["input"] for part in _parts(item)}
    assert {"input_image", "input_file", "function_call", "function_call_output", "output_text"} <= kinds
    assert all(request["tools"] for request in sent)

    # The same calls through the SDK's own client, walk and all.
    fake.script(*[text("Again.", pieces=1, pause=0) for _ in made])
    sdk = openai.AsyncOpenAI(api_key="sk-test-component", base_url=fake.url, max_retries=0)

    async def replay() -> None:
        for arguments in made:
            # The agent streams through with_streaming_response, whose header asks for the raw
            # response; the replay reads the SDK's parsed stream instead (headers are not the body).
            headers = {
                k: v
                for k, v in (arguments.get("extra_headers") or {}).items()
                if "raw-response" not in k.lower()
            }
            stream = await sdk.responses.create(**{**arguments, "extra_headers": headers})
            async for _ in stream:
                pass
        await sdk.close()

    asyncio.run(replay())
    assert fake.requests[len(sent) :] == sent


def _parts(item: dict[str, Any]) -> list[dict[str, Any]]:
    content = item.get("content")
    return [item, *content] if isinstance(content, list) else [item]
