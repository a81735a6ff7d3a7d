"""Each limit is written once (chatkit_backend.limits) and every reader enforces that same value."""

from __future__ import annotations

import pytest

from chatkit_backend import limits, tasks, threads
from chatkit_backend.errors import InvalidInput
from chatkit_backend.mcp.tools import TOOLS_BY_NAME

CONTROL = ["\x00", "\x07", "\x1b", "\r", "\x7f", "\x85", "\x9f", "\ud800", "\udfff"]
ALLOWED = ["\n", "\t", "é", "ß", "☃", "😀", "\u200b", " "]


def test_the_mcp_schemas_carry_the_limits_the_task_service_enforces() -> None:
    add = TOOLS_BY_NAME["add_task"].input_schema["properties"]
    listing = TOOLS_BY_NAME["list_tasks"].input_schema["properties"]["limit"]
    assert add["title"]["maxLength"] == limits.TASK_TITLE_MAX_CHARS
    assert add["description"]["maxLength"] == limits.TASK_DESCRIPTION_MAX_CHARS
    assert (listing["maximum"], listing["default"]) == (limits.PAGE_LIMIT_MAX, limits.PAGE_LIMIT_DEFAULT)
    assert tasks.clean_title("x" * limits.TASK_TITLE_MAX_CHARS)
    with pytest.raises(InvalidInput):
        tasks.clean_title("x" * (limits.TASK_TITLE_MAX_CHARS + 1))
    with pytest.raises(InvalidInput):
        tasks.clean_description("x" * (limits.TASK_DESCRIPTION_MAX_CHARS + 1))
    with pytest.raises(InvalidInput):
        threads.validate_title("x" * (limits.THREAD_TITLE_MAX_CHARS + 1))


def test_the_chatkit_limits_stay_well_under_dynamodb_s_item_size() -> None:
    item_limit = 400 * 1024
    # A message's text, as JSON, can take up to 6 bytes a character (\\u0000 escapes).
    assert limits.MESSAGE_TEXT_MAX_CHARS * 6 < item_limit / 2
    for size in (limits.MESSAGE_MAX_BYTES, limits.TOOL_OUTPUT_MAX_BYTES, limits.STRUCTURED_INPUT_MAX_BYTES):
        assert size <= item_limit / 3


@pytest.mark.parametrize("character", CONTROL, ids=[f"U+{ord(c):04X}" for c in CONTROL])
@pytest.mark.parametrize(
    "check",
    [tasks.clean_title, tasks.clean_description, threads.validate_title],
    ids=["task title", "task description", "thread title"],
)
def test_control_characters_are_refused_naming_the_character(check: object, character: str) -> None:
    with pytest.raises(InvalidInput, match=f"U\\+{ord(character):04X}"):
        check(f"Buy{character}milk")  # type: ignore[operator]


@pytest.mark.parametrize("character", ALLOWED, ids=[f"U+{ord(c):04X}" for c in ALLOWED])
def test_newline_tab_and_ordinary_text_are_kept(character: str) -> None:
    assert tasks.clean_title(f"Buy{character}milk") == f"Buy{character}milk"
    assert threads.validate_title(f"Buy{character}milk") == f"Buy{character}milk"
