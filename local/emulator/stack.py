"""The local stack: moto for AWS, the template's resources in it, a pool of sandboxes per function.

`make dev` runs one and records where it is in ``.local/stack.json`` so that `make token`,
`make invoke` and `make rotate` use the same AWS, as the SAM CLI uses your account.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.emulator import moto_dynamodb
from local.emulator.gateway import Gateway, serve
from local.emulator.iam import function_roles
from local.emulator.iam_enforcement import Enforcement, credentials, register
from local.emulator.resources import FAKE_CREDENTIALS, create_resources, physical_name
from local.emulator.runtime import (
    FunctionPool,
    WebAppPool,
    concurrency_limit,
    free_port,
    function_environment,
    stop,
)
from local.template import ROOT, Template

log = logging.getLogger("local.emulator.stack")
# The secret the template creates empty for the OpenAI key (no template parameter carries it).
OPENAI_KEY_SECRET = "OpenAIApiKeySecret"


def state_path() -> Path:
    return Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local") / "stack.json"


@dataclass
class LocalAws:
    """An AWS endpoint (moto) that functions and tools reach over HTTP.

    ``start`` runs moto's server in a process of its own: moto spends several milliseconds of
    CPU on every DynamoDB request, and in the gateway's process it would hold the GIL the
    gateway needs to pass the next request on.
    """

    endpoint_url: str
    region: str
    server: Any = None

    @classmethod
    def start(cls, region: str, port: int = 0) -> LocalAws:
        # Its own session: Ctrl-C on `make dev` reaches the stack, which then stops moto in order.
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import local.emulator.stack; local.emulator.stack.serve_moto()",
                str(port),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stdout is not None
        address = process.stdout.readline().decode().split()
        if len(address) != 2:
            process.kill()
            process.wait()
            raise RuntimeError(f"moto's server did not start (is port {port} free?)")
        host, bound = address
        return cls(endpoint_url=f"http://{host}:{bound}", region=region, server=_MotoProcess(process))

    def environment(self, function: str | None = None) -> dict[str, str]:
        """What a process needs to talk to this AWS with boto3: as ``function`` (its role's
        rights, ``local.emulator.iam_enforcement``), or as the account's administrator."""
        signer = FAKE_CREDENTIALS if function is None else credentials(function)
        return {**signer, "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_DEFAULT_REGION": self.region}

    def enforce(self, template: Template) -> None:
        """Have this AWS refuse what each function's role (SAM's translation of ``template``,
        whose resources exist here) does not allow; a warning when it cannot."""
        secret_arns = {
            physical_name(template, secret): template.physical_ids[secret]
            for secret in template.resources_of_type("AWS::SecretsManager::Secret")
        }
        if not register(self.endpoint_url, function_roles(template).values(), secret_arns):
            log.warning(
                "AWS at %s does not check the functions' roles (not the local stack's moto): "
                "a call a role does not allow is not refused",
                self.endpoint_url,
            )

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def serve_moto() -> None:
    """The local AWS process: moto's server on the port in argv, its address on stdout, until
    stdin closes (the stack stopped it, or the stack's process is gone)."""
    # moto's server otherwise allows every origin on every request (flask-cors): off, so S3
    # answers browsers from the bucket's CORS rules as AWS does. moto reads it on import.
    os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # The same DynamoDB answers, several times faster to write (local/emulator/moto_dynamodb.py).
    moto_dynamodb.install()
    server = _moto_server(int(sys.argv[1]))
    server.start()
    host, port = server.get_host_and_port()
    print(host, port, flush=True)
    sys.stdin.read()


def _moto_server(port: int) -> _Serving:
    """moto's apps behind a werkzeug server of our own, with DynamoDB's requests applied one at a time.

    DynamoDB applies each request to an item atomically: a condition and the update it guards are
    one step, so N concurrent conditional updates at a limit let exactly the allowed number
    through. moto checks and writes in separate steps on its request threads; serialising its
    DynamoDB requests gives the local stack DynamoDB's answer (the usage limits rely on it).
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    dynamodb = threading.Lock()
    app = DomainDispatcherApplication(create_backend_app)
    # moto's dispatcher finds the service of every request anew (about 1 ms: it lists moto's
    # modules on disk and matches URL patterns); a DynamoDB request always goes to the same
    # app, whatever its region (the backends are moto's, shared by every app), so it is made
    # here, as the dispatcher would make it for the first DynamoDB request.
    dynamodb_app = create_backend_app("dynamodb")

    def one_dynamodb_request_at_a_time(environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return app(environ, start_response)
        with dynamodb:
            return list(dynamodb_app(environ, start_response))

    # Each function's requests are checked against its role first (local/emulator/iam_enforcement.py).
    checked = Enforcement(one_dynamodb_request_at_a_time)
    # What moto's own server runs (moto_server, ThreadedMotoServer): werkzeug's threaded server with
    # moto's request handler, here over our app instead of moto's.
    return _Serving(
        make_server("127.0.0.1", port, checked, threaded=True, request_handler=MotoRequestHandler)
    )


@dataclass
class _Serving:
    """A werkzeug server answering on a thread of its own."""

    server: Any

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="local-aws", daemon=True).start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)


@dataclass
class _MotoProcess:
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the process ends when its stdin closes
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class LocalStack:
    template: Template
    aws: LocalAws
    workers: dict[str, FunctionPool | WebAppPool] = field(default_factory=dict)
    url: str = ""
    demo_url: str = ""
    _server: Any = None

    @classmethod
    def provision(cls, template: Template, aws: LocalAws) -> LocalStack:
        create_resources(template, aws.client)
        aws.enforce(template)
        stack = cls(template=template, aws=aws)
        limit = concurrency_limit()
        for spec in template.functions().values():
            environment = function_environment(spec, aws.environment(spec.logical_id), aws.region)
            pool = WebAppPool if spec.web_adapter else FunctionPool
            stack.workers[spec.logical_id] = pool(spec, environment, aws.region, limit)
        return stack

    def serve(self, host: str, port: int) -> str:
        gateway = Gateway(
            self.template.routes(),
            self.workers,
            self.template.authorizer(),
            self.template.cors(),
            rest_authorizer=self.template.rest_authorizer(),
            rest_stage=self.template.rest_stage(),
            rest_gateway_responses=self.template.rest_gateway_responses(),
        )
        self._server = serve(gateway, host, port)
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    def write_state(self) -> Path:
        path = state_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "url": self.url,
            "demo_url": self.demo_url,
            "aws_endpoint_url": self.aws.endpoint_url,
            "region": self.aws.region,
            "resources": self.template.physical_ids,
            "parameters": self.template.parameters,
            "pid": os.getpid(),
        }
        path.write_text(json.dumps(state, indent=2))
        return path

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        for worker in self.workers.values():
            worker.stop()
        self.aws.stop()
        path = state_path()
        if path.exists() and json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def store_openai_api_key(template: Template, aws: LocalAws, environ: dict[str, str]) -> bool:
    """OPENAI_API_KEY, when set, into OpenAIApiKeySecret as {"api_key": ...}: where the operator
    puts it in AWS with `aws secretsmanager put-secret-value`. True when a key was stored."""
    api_key = environ.get("OPENAI_API_KEY", "").strip()
    if not api_key:
        return False
    aws.client("secretsmanager").put_secret_value(
        SecretId=template.physical_ids[OPENAI_KEY_SECRET], SecretString=json.dumps({"api_key": api_key})
    )
    return True


def running_stack_state() -> dict[str, Any] | None:
    """The state of the `make dev` stack that is up now, or None."""
    path = state_path()
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    try:
        with urllib.request.urlopen(f"{state['aws_endpoint_url']}/moto-api/", timeout=1):
            return state
    except OSError:
        return None


@dataclass
class DevProcess:
    """`make dev` running in a process of its own."""

    process: subprocess.Popen[bytes]
    state_dir: Path
    log_path: Path
    state: dict[str, Any]  # its .local/stack.json: url, demo_url, aws_endpoint_url, region, resources


@contextmanager
def dev_process(
    env: dict[str, str] | None = None, *, port: int = 0, timeout: float = 60.0
) -> Iterator[DevProcess]:
    """Run `python -m local.emulator.dev` until the block ends, on ``port`` (0: a free one), with
    ``env`` over this process's environment less its AWS_ variables (the stack brings its own AWS),
    and its state and log in a fresh folder. Ready once it has written its state and /health
    answers 200. For the tests that drive the API over HTTP and for the bench's load, which must
    not share an interpreter with the stack they measure."""
    state_dir = Path(tempfile.mkdtemp(prefix="local-stack-"))
    log_path = state_dir / "dev.log"
    # A port chosen here, not PORT=0: make dev tells its functions the API's URL (SessionFunction's
    # chatkit_url) before it listens.
    port = port or free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **(env or {}),
        "PORT": str(port),
        # The demo page's port defaults to PORT+1, which for PORT=0 would be port 1.
        "DEMO_PORT": str(free_port()),
        "LOCAL_STATE_DIR": str(state_dir),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.emulator.dev"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield DevProcess(process, state_dir, log_path, _wait_until_up(process, state_dir, log_path, timeout))
    finally:
        # make dev stops cleanly on SIGTERM as on SIGINT (its moto child included).
        stop(process, timeout=20)


def _wait_until_up(
    process: subprocess.Popen[bytes], state_dir: Path, log_path: Path, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state_file = state_dir / "stack.json"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited with {process.returncode}:\n{log_path.read_text()}")
        if state_file.exists():
            try:  # the state file may be half written; /health may not answer yet
                state: dict[str, Any] = json.loads(state_file.read_text())
                with urllib.request.urlopen(f"{state['url']}/health", timeout=5) as answer:
                    if answer.status == 200:
                        return state
            except (OSError, ValueError):
                pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"local stack did not answer /health in {timeout} s:\n{log_path.read_text()}")
        time.sleep(0.1)
