#!/bin/sh
# Started by the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap), which then waits
# for GET /ready and forwards each invocation to this server as an HTTP request, streaming the
# response (AWS_LWA_INVOKE_MODE=response_stream). The shared layer is in /opt/python.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-.}:/opt/python${PYTHONPATH:+:$PYTHONPATH}"
exec python -m uvicorn app:app --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" --no-access-log --log-level warning
