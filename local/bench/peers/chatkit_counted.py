"""ChatKitFunction's app as the Lambda Web Adapter calls it (see chatkit_asgi.py), counting the
DynamoDB requests each call makes: the probe reports those of the first call.

The count is taken where every request of the function starts, on the shared botocore client,
so it is what DynamoDB bills for one widget action or one chat turn.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from chatkit_asgi import handler as call_app  # the measured import: chatkit, agents, openai and the app
from chatkit_backend.aws import clients as aws

FIRST_CALL_DYNAMODB_REQUESTS: dict[str, int] | None = None
_requests: Counter[str] = Counter()


def _count(model: Any, **_: Any) -> None:
    _requests[model.name] += 1


aws.client("dynamodb").meta.events.register("before-parameter-build.dynamodb", _count)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global FIRST_CALL_DYNAMODB_REQUESTS
    _requests.clear()
    result = call_app(event, context)
    if FIRST_CALL_DYNAMODB_REQUESTS is None:
        FIRST_CALL_DYNAMODB_REQUESTS = dict(_requests)
    return result
