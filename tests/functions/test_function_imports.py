"""Cold start is a feature: each function imports only what it serves.

The chatkit/agents stack (about a second to import) is ChatKitFunction's alone, but for the
hosted import, which reads chatkit's types (never the agent or the web server); ``openai`` is
ChatKitFunction's and the import's; FastAPI is for the two REST functions, SessionFunction and
ThreadsFunction, which read ChatKitTable without ChatKit.
Each function is imported in a fresh interpreter with its template environment, as Lambda would.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local.runtime import function_environment
from local.template import REGION, Template

FUNCTIONS = Template.load().functions()
PROBE = """
import importlib.util, json, sys
path, *paths = sys.argv[1:]
sys.path[:0] = paths
spec = importlib.util.spec_from_file_location("lambda_app", path)
module = importlib.util.module_from_spec(spec)
sys.modules["lambda_app"] = module
spec.loader.exec_module(module)
sys.__stdout__.write(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""
# Handler functions (ChatKitFunction is a web app behind the Lambda Web Adapter, and may load all).
HANDLERS = {logical_id for logical_id, spec in FUNCTIONS.items() if not spec.web_adapter}
# chatkit's types need jinja2 (its widget templates); the agent and its server stay out.
IMPORT = "ImportHostedThreadsFunction"
# Functions that must not load a package.
FORBIDDEN = {
    "openai": HANDLERS - {IMPORT},
    "fastapi": HANDLERS - {"SessionFunction", "ThreadsFunction"},
    **{package: HANDLERS - {IMPORT} for package in ("chatkit", "jinja2")},
    **{package: HANDLERS for package in ("agents", "uvicorn")},
}


def imported_packages(logical_id: str) -> set[str]:
    spec = FUNCTIONS[logical_id]
    module, _ = spec.handler.rsplit(".", 1)
    env = function_environment(
        spec, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}, REGION
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            str(spec.code_dir / f"{module}.py"),
            str(spec.code_dir),
            *map(str, spec.layer_dirs),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("logical_id", sorted(set().union(*FORBIDDEN.values()) & set(FUNCTIONS)))
def test_functions_load_no_package_they_do_not_serve(logical_id: str) -> None:
    loaded = imported_packages(logical_id)
    assert not {package for package, banned in FORBIDDEN.items() if logical_id in banned} & loaded


def test_chatkit_function_is_the_one_web_adapter_function() -> None:
    assert sorted(set(FUNCTIONS) - HANDLERS) == ["ChatKitFunction"]


def test_the_session_and_threads_functions_load_fastapi_and_no_more() -> None:
    # The check above would pass vacuously if the probe saw no imports at all.
    assert {"fastapi", "mangum", "jwt"} <= imported_packages("SessionFunction")
    assert {"fastapi", "mangum"} <= imported_packages("ThreadsFunction")


def test_the_hosted_import_loads_chatkit_types_and_openai_but_not_the_agent() -> None:
    loaded = imported_packages(IMPORT)
    assert {"chatkit", "openai"} <= loaded
    assert not {"agents", "uvicorn", "fastapi"} & loaded
