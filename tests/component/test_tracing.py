"""X-Ray: a traced function's AWS calls reach the X-Ray daemon as subsegments of Lambda's trace.

The function runs in a fresh interpreter as in Lambda: tracing on (LAMBDA_TASK_ROOT, a trace
id in _X_AMZN_TRACE_ID), AWS in moto, and the daemon address pointing at a UDP socket of this
test, which reads what the X-Ray SDK sends.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

from local.template import ROOT

SCRIPT = """
import os, sys
import boto3
from moto import mock_aws
from local.events import http_event
from local.resources import create_resources
from local.runtime import LambdaContext, function_environment, load_handler
from local.template import REGION, Template

with mock_aws():
    template = Template.load()
    create_resources(template, lambda service: boto3.client(service, region_name=REGION))
    spec = template.functions()["UserDataFunction"]
    os.environ.update(function_environment(spec, {}, REGION))
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "false"
    handler = load_handler(spec)
    event = http_event("DELETE", "/api/me", route_key="DELETE /api/me", user_id="alice")
    result = handler(event, LambdaContext(spec, REGION))
    assert result["statusCode"] == 200, result
"""


def documents(packets: list[bytes]) -> list[dict[str, Any]]:
    """The segment documents in the daemon protocol's packets (a JSON header line, then one document)."""
    found = []
    for packet in packets:
        _, _, body = packet.decode().partition("\n")
        found.append(json.loads(body))
    return found


def test_the_erasures_dynamodb_calls_are_subsegments_of_the_lambda_trace() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        trace_id = "1-67891234-abcdef012345678912345678"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
            "_X_AMZN_TRACE_ID": f"Root={trace_id};Parent=53995c3f42cd8ad8;Sampled=1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers/shared/python")]),
        }
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        packets = []
        while True:
            try:
                packets.append(daemon.recv(65536))
            except TimeoutError:
                break
    sent = documents(packets)
    assert sent and all(document["trace_id"] == trace_id for document in sent)
    calls = [(d["name"], d.get("aws", {}).get("operation")) for d in sent if d.get("namespace") == "aws"]
    # The erasure reads each table's partition: one Query per table, each its own subsegment.
    assert calls.count(("dynamodb", "Query")) == 4
    handler = [d for d in sent if d["name"] == "## handler"]
    assert handler and handler[0]["annotations"].get("ColdStart") is True
