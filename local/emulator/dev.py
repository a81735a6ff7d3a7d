"""`make dev`: the whole API on http://127.0.0.1:${PORT:-3000} with embedded AWS, until Ctrl-C.

Beside it, on ${DEMO_PORT:-PORT+1}, the ChatKit demo page (local/emulator/demo/index.html); its origin is
added to ALLOWED_ORIGINS, so the API and the attachments bucket accept the page's requests.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from local.emulator.demo import demo_origins, serve_demo
from local.emulator.runtime import concurrency_limit
from local.emulator.stack import LocalAws, LocalStack, store_openai_api_key
from local.template import ENV_TO_PARAMETER, Template, TemplateError


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    log = logging.getLogger("local.emulator.dev")
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "3000"))
    demo_port = int(os.environ.get("DEMO_PORT") or port + 1)
    try:
        environ = dict(os.environ)
        origins = Template.from_environment(environ).parameters["AllowedOrigins"]
        environ["ALLOWED_ORIGINS"] = ",".join(dict.fromkeys([*origins, *demo_origins(demo_port)]))
        template = Template.from_environment(environ)
        # The functions learn the APIs' URLs (SessionFunction's CHATKIT_URL) from the template.
        template.gateway_url = f"http://{host}:{port}"
        limit = concurrency_limit()
    except (TemplateError, ValueError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    # AWS_ENDPOINT_URL: run against an AWS endpoint you started (your own moto server, or a proxy
    # in front of one that fails on demand, as the fault tests do) instead of the embedded one.
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    if endpoint:
        aws = LocalAws(endpoint_url=endpoint.rstrip("/"), region=template.region)
    else:
        aws = LocalAws.start(template.region, int(os.environ.get("AWS_PORT", "0")))
    stack = LocalStack.provision(template, aws)
    store_openai_api_key(template, aws, dict(os.environ))
    listening = f"{host}:{port}"
    try:
        url = stack.serve(host, port)
        listening = f"{host}:{demo_port}"
        demo = serve_demo(host, demo_port, url, int(template.parameters["AttachmentMaxBytes"]))
    except (OSError, TemplateError) as exc:
        if isinstance(exc, OSError):
            log.error(
                "cannot listen on %s: %s (set PORT and DEMO_PORT to free ports)",
                listening,
                exc.strerror or exc,
            )
        else:
            log.error("cannot start: %s", exc)
        stack.stop()
        return 2
    stack.demo_url = demo_origins(demo_port)[0]
    state = stack.write_state()
    configured = sorted(v for v in (*ENV_TO_PARAMETER, "OPENAI_API_KEY") if os.environ.get(v))
    log.info("API      %s  (GET %s/health)", url, url)
    log.info("demo     %s  (ChatKit page; paste a token from `make token USER=alice`)", stack.demo_url)
    log.info(
        "AWS      %s  (%s: tables, secrets and buckets from template.yaml)",
        aws.endpoint_url,
        "AWS_ENDPOINT_URL" if endpoint else "moto",
    )
    log.info("routes   %s", ", ".join(r.route_key for r in template.routes()))
    log.info(
        "lambdas  up to %d warm sandboxes per function, one invocation each (LOCAL_FUNCTION_CONCURRENCY)",
        limit,
    )
    log.info("settings %s", ", ".join(configured) or "defaults (see docs/local-stack.md: Configuration)")
    log.info("state    %s; stop with Ctrl-C", state)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        log.info("stopping: demo page, workers, AWS and %s", state)
        demo.shutdown()
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
