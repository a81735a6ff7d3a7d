"""X-Ray for the function that traces a request's calls: ChatKitFunction, the chat.

Powertools' Tracer patches botocore (DynamoDB, S3, Secrets Manager) and httpx (the OpenAI SDK's
transport), so each call of a request is a subsegment of its trace, under the function's own
subsegments (``## handle``). Only the chat imports this module: the X-Ray SDK takes a few hundred
milliseconds to import (ChatKitPackagesLayer carries it), and the other functions never load it.

Tracing runs where Lambda runs (``Tracing: Active`` in the template). The local stack, like SAM's
emulator, has no X-Ray daemon and sets POWERTOOLS_TRACE_DISABLED: the code paths run, nothing is
sent.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer(patch_modules=("botocore", "httpx"))
