"""The ChatKit server routes a parsed request exactly as openai-chatkit's public ``process`` does.

``TaskAssistantServer.process_request`` copies the two lines of ``ChatKitServer.process`` that
route a parsed request to the library's private handlers (``chat.server`` says why). If a new
openai-chatkit routes differently, or renames those handlers, this fails: then follow the library.
"""

from __future__ import annotations

import inspect
import re

from chatkit.server import ChatKitServer
from chatkit_backend.chat.server import TaskAssistantServer


def routing(function: object) -> list[str]:
    """The statements of ``function`` after its docstring, parse and log lines, one per line,
    whitespace folded and the parsed request's name made one."""
    source = inspect.getsource(function)  # type: ignore[arg-type]
    body = source.split('"""')[-1] if '"""' in source else source.split(":", 1)[1]
    text = " ".join(body.split()).replace("parsed_request", "request").replace("( ", "(").replace(" )", ")")
    statements = re.split(r"(?= if | else: | return )", text)
    return [
        s.strip()
        for s in statements
        if s.strip() and "validate_json" not in s and "logger." not in s and not s.strip().startswith("else")
    ]


def test_process_request_is_the_routing_of_chatkits_process() -> None:
    ours = routing(TaskAssistantServer.process_request)
    theirs = routing(ChatKitServer.process)
    assert ours == theirs, f"openai-chatkit's process routes as {theirs}; ours as {ours}"
