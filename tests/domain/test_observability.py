"""The shared logger loads Powertools with its first line, and that line carries the request's keys.

Run in a fresh interpreter, as a Lambda container starts: a handler decorated as the functions'
are is invoked twice; the first invocation appends its keys before Powertools exists.
"""

from __future__ import annotations

import json
import subprocess
import sys

from local.template import ROOT

SCRIPT = """
import json, sys
from chatkit_backend.observability.logs import REQUEST_ID_PATH, logger

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "McpFunction", 1024, "lambda-request-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:McpFunction"

@logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
def handler(event, context):
    loaded = "aws_lambda_powertools" in sys.modules
    if event.get("log"):
        logger.info("something to say", extra={"loaded_before": loaded})
    return loaded

quiet = handler({"requestContext": {"requestId": "api-request-0"}}, Context())
Context.aws_request_id = "lambda-request-2"
handler({"requestContext": {"requestId": "api-request-1"}, "log": True}, Context())
Context.aws_request_id = "lambda-request-3"
handler({"requestContext": {"requestId": "api-request-2"}, "log": True}, Context())
sys.stderr.write(json.dumps({"quiet_request_loaded_powertools": quiet}))
"""


def test_the_first_line_loads_powertools_and_carries_the_keys_appended_before_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={"PYTHONPATH": str(ROOT / "layers/shared/python"), "POWERTOOLS_SERVICE_NAME": "chatkit-backend"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stderr.strip().splitlines()[-1]) == {"quiet_request_loaded_powertools": False}
    first, second = [json.loads(line) for line in done.stdout.splitlines()]
    for line, number in ((first, 1), (second, 2)):
        assert line["message"] == "something to say" and line["service"] == "chatkit-backend"
        assert line["correlation_id"] == f"api-request-{number}"
        assert line["function_request_id"] == f"lambda-request-{number + 1}"
        assert line["function_name"] == "McpFunction" and line["function_memory_size"] == 1024
        assert line["function_arn"].endswith(":function:McpFunction")
        assert line["cold_start"] is False  # the container's first invocation was the quiet one
    assert first["loaded_before"] is False and second["loaded_before"] is True
