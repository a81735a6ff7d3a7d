"""AWS clients, built once per container on first use.

botocore honours AWS_ENDPOINT_URL, which is how the local stack and the tests point every client
at moto. Timeouts stay well inside API Gateway's 30 s so a slow dependency surfaces as an error
the caller can read, not as a gateway timeout.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)
# Presigned S3 URLs must be SigV4 (botocore still presigns SigV2 by default in us-east-1), and
# SigV4 signs content-type, content-length and x-amz-tagging, so a client cannot upload something
# else than what the server agreed to.
SERVICE_CONFIG = {"s3": Config(signature_version="s3v4")}


@cache
def client(service: str) -> Any:
    """The container's client for ``service`` ("dynamodb", "secretsmanager", "s3").

    Built with botocore directly: a boto3 client is this same botocore client, and skipping
    boto3's import (resources, S3 transfer hooks) takes a fifth off a cold start's SDK cost.
    """
    config = CLIENT_CONFIG.merge(SERVICE_CONFIG[service]) if service in SERVICE_CONFIG else CLIENT_CONFIG
    return botocore.session.get_session().create_client(service, config=config)
