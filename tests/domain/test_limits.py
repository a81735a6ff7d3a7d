"""Each limit is written once (chatkit_backend.limits) and every reader enforces that same value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chatkit_backend import limits
from chatkit_backend.chat import threads
from chatkit_backend.errors import InvalidInput
from chatkit_backend.tasks import service as tasks
from chatkit_backend.tasks.tools import TOOLS_BY_NAME

CONTROL = ["\x00", "\x07", "\x1b", "\r", "\x7f", "\x85", "\x9f", "\ud800", "\udfff"]
ROOT = Path(__file__).resolve().parents[2]
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


# The MCP schemas and the FastAPI models are built at import, so the check runs in a fresh
# interpreter that lowers the one constant before anything imports it, then reads what each
# surface enforces: the service (longest value accepted), the MCP tool schema, the HTTP API's
# OpenAPI document.
_SURFACES = r"""
import importlib.util, json, sys
from chatkit_backend import limits

name, value = sys.argv[1], int(sys.argv[2])
setattr(limits, name, value)
from chatkit_backend.aws import cursor
from chatkit_backend.tasks import service as tasks
from chatkit_backend.chat import threads
from chatkit_backend.chat import records
from chatkit_backend.errors import InvalidInput
from chatkit_backend.tasks.tools import TOOLS_BY_NAME

spec = importlib.util.spec_from_file_location("threads_app", "functions/threads/app.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
api = module.app.openapi()


def largest_accepted(check, make):
    for size in (value + 1, value):
        try:
            check(make(size))
            return size
        except InvalidInput:
            continue
    return None


def an_id(value):
    if not records.accepts_id(value):
        raise InvalidInput("not an id of ChatKitTable")


def schema(tool, field):
    return TOOLS_BY_NAME[tool].input_schema["properties"][field]


def query(field):
    parameters = api["paths"]["/api/chatkit/threads"]["get"]["parameters"]
    found = next(p["schema"] for p in parameters if p["name"] == field)
    return found.get("anyOf", [found])[0]


text = lambda size: "x" * size
surfaces = {
    "TASK_TITLE_MAX_CHARS": {
        "service": largest_accepted(tasks.clean_title, text),
        "mcp": schema("add_task", "title")["maxLength"],
    },
    "TASK_DESCRIPTION_MAX_CHARS": {
        "service": largest_accepted(tasks.clean_description, text),
        "mcp": schema("update_task", "description")["maxLength"],
    },
    "TASK_ID_MAX_CHARS": {"mcp": schema("complete_task", "task_id")["maxLength"]},
    "PAGE_LIMIT_MAX": {
        "service": largest_accepted(lambda size: records.check_page(size, "desc"), lambda size: size),
        "mcp": schema("list_tasks", "limit")["maximum"],
        "api": query("limit")["maximum"],
    },
    "CURSOR_MAX_CHARS": {"mcp": schema("list_tasks", "cursor")["maxLength"], "api": query("cursor")["maxLength"]},
    "THREAD_TITLE_MAX_CHARS": {"service": largest_accepted(threads.validate_title, text)},
    "THREAD_ID_MAX_CHARS": {"service": largest_accepted(an_id, text)},
}
print(json.dumps(surfaces[name]))
"""

SURFACES = {
    "TASK_TITLE_MAX_CHARS": {"service", "mcp"},
    "TASK_DESCRIPTION_MAX_CHARS": {"service", "mcp"},
    "TASK_ID_MAX_CHARS": {"mcp"},
    "PAGE_LIMIT_MAX": {"service", "mcp", "api"},
    "CURSOR_MAX_CHARS": {"mcp", "api"},
    "THREAD_TITLE_MAX_CHARS": {"service"},
    "THREAD_ID_MAX_CHARS": {"service"},
}


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_changing_a_limit_in_the_one_module_changes_every_surface(name: str) -> None:
    lowered = getattr(limits, name) - 7
    ran = subprocess.run(
        [sys.executable, "-c", _SURFACES, name, str(lowered)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/shared/python"), str(ROOT)])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    enforced = json.loads(ran.stdout)
    assert enforced == {surface: lowered for surface in SURFACES[name]}
