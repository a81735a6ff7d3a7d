"""Only ChatKitFunction pays for chatkit, agents and openai: every other function imports clean.

Each handler is imported in a fresh interpreter, in its template environment, as a cold start
would; the test then reads which packages that import pulled in.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local.template import ROOT, Template

HEAVY = ("chatkit", "agents", "openai", "uvicorn", "jinja2")
FUNCTIONS = sorted(logical_id for logical_id, spec in Template.load().functions().items() if not spec.web_adapter)
PROBE = """
import json, os, sys
from local.resources import FAKE_CREDENTIALS
from local.runtime import function_environment, load_handler
from local.template import Template
spec = Template.load().functions()[sys.argv[1]]
os.environ.update(function_environment(spec, {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "us-east-1"))
before = set(sys.modules)
load_handler(spec)
print(json.dumps(sorted({name.split(".")[0] for name in set(sys.modules) - before})))
"""


def test_chatkit_function_is_the_one_web_adapter_function() -> None:
    adapted = [logical_id for logical_id, spec in Template.load().functions().items() if spec.web_adapter]
    assert adapted == ["ChatKitFunction"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_imports_none_of_the_chatkit_stack(function: str) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, function], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not imported & set(HEAVY), f"{function} imports {sorted(imported & set(HEAVY))}"
