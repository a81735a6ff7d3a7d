"""The OpenAI client the chat's agent calls the Responses API with: the SDK's own, minus a no-op.

Before sending a request, ``responses.create`` walks every argument against the API's TypedDicts
(``openai._utils._transform``) to rename aliased keys and format dates and files. For a union it
walks the value against every member: each item of the input against every kind of input item,
each tool against every kind of tool. With a turn's 30 items of history that walk is about 28 ms
of CPU per model call, and a turn makes two or more (measured: docs/latency.md).

None of the types under ``input`` and ``tools`` declares an alias or a format (a test walks the
whole tree, ~600 types, and fails the day a new SDK version adds one), so for them the walk
returns what it was given. ``ResponsesClient`` sends those two arguments as they are, through the
SDK's documented ``extra_body`` (merged into the JSON body after the walk), and everything else
the SDK's own way: the same JSON reaches OpenAI, without the walk. Retries, timeouts, streaming
and errors are the SDK's, unchanged.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from openai import AsyncOpenAI
from openai.resources.responses import AsyncResponses

# The create() arguments sent as given: the two big lists of every model call.
AS_GIVEN = ("input", "tools")


def as_given(arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` for ``responses.create`` with the lists of ``AS_GIVEN`` moved into ``extra_body``."""
    moved = {name: arguments[name] for name in AS_GIVEN if isinstance(arguments.get(name), list)}
    if not moved:
        return arguments
    kept = {name: value for name, value in arguments.items() if name not in moved}
    kept["extra_body"] = {**(arguments.get("extra_body") or {}), **moved}
    return kept


class AsGivenResponses(AsyncResponses):
    """``responses`` whose ``create`` sends the lists of ``AS_GIVEN`` as given."""

    async def create(self, **arguments: Any) -> Any:  # type: ignore[override]  # same call, keyword-only as the SDK's
        return await super().create(**as_given(arguments))


class ResponsesClient(AsyncOpenAI):
    """``AsyncOpenAI`` whose ``responses.create`` (and its streaming and raw forms, which call it)
    sends ``input`` and ``tools`` as given."""

    @cached_property
    def responses(self) -> AsyncResponses:
        return AsGivenResponses(self)
