"""X-Ray: the chat's AWS calls reach the X-Ray daemon as subsegments of Lambda's trace.

The ChatKit app runs in a fresh interpreter as in Lambda: tracing on (LAMBDA_TASK_ROOT, the
trace id in the header the Lambda Web Adapter forwards), AWS in moto, and the daemon address pointing at a UDP socket of this
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
import asyncio, json, os
import boto3, httpx
from moto import mock_aws
from local.emulator.resources import create_resources
from local.emulator.runtime import function_environment
from local.template import REGION, Template
import importlib.util, sys
from tests.support.chatkit_app import request_context

with mock_aws():
    template = Template.load()
    create_resources(template, lambda service: boto3.client(service, region_name=REGION))
    spec = template.functions()["ChatKitFunction"]
    os.environ.update(function_environment(spec, {}, REGION))
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "false"
    sys.path[:0] = [str(spec.code_dir), *map(str, spec.layer_dirs)]
    module_spec = importlib.util.spec_from_file_location("chatkit_function_app", spec.code_dir / "app.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    app = module.app

    async def threads_list():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chatkit.local") as client:
            return await client.post("/chatkit", content=json.dumps({"type": "threads.list", "params": {}}), headers={
                "content-type": "application/json",
                "x-amzn-request-context": request_context("alice"),
                "x-amzn-lambda-context": json.dumps({"request_id": "r-1", "xray_trace_id": os.environ.pop("TRACE")}),
            })

    response = asyncio.run(threads_list())
    assert response.status_code == 200, response.text
"""


def documents(packets: list[bytes]) -> list[dict[str, Any]]:
    """The segment documents in the daemon protocol's packets (a JSON header line, then one document)."""
    found = []
    for packet in packets:
        _, _, body = packet.decode().partition("\n")
        found.append(json.loads(body))
    return found


def test_a_chat_requests_dynamodb_call_is_a_subsegment_of_the_lambda_trace() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        trace_id = "1-67891234-abcdef012345678912345678"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
            # Lambda's trace id reaches the ChatKit app only through the adapter's header.
            "TRACE": f"Root={trace_id};Parent=53995c3f42cd8ad8;Sampled=1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers/shared/python")]),
        }
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, timeout=120, check=False
        )
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
    # threads.list is one Query, and the service traces its handling of the request.
    assert calls == [("dynamodb", "Query")]
    names = {d["name"] for d in sent}
    assert "## chatkit_backend.chat.server.ChatKitService.handle" in names
    # Both hang off the invocation's segment (the Parent in the adapter's trace header).
    assert {d["parent_id"] for d in sent} == {"53995c3f42cd8ad8"}
