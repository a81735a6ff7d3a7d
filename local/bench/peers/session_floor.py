"""The floor for POST /api/chatkit/session: the same work with nothing around it.

A bare handler that reads TokenSigningSecret once (boto3, cached in a global), signs the same
HS256 session token with PyJWT and asks ChatKitTable for the user's newest thread (the same one
Query), then answers the same JSON. No FastAPI, Mangum or Powertools, no identity checks, no
validation: SessionFunction's warm time minus this row's is what its framework and checks add.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import boto3
import jwt

secrets = boto3.client("secretsmanager")
dynamodb = boto3.client("dynamodb")
KEY: str | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global KEY
    if KEY is None:
        KEY = secrets.get_secret_value(SecretId=os.environ["TOKEN_SIGNING_SECRET_ARN"])["SecretString"]
    user_id = event["requestContext"]["authorizer"]["lambda"]["user_id"]
    now = int(time.time())
    expires_at = now + int(os.environ["CHATKIT_SESSION_SECONDS"])
    claims = {"sub": user_id, "aud": "chatkit-backend:chatkit", "iss": "chatkit-backend", "iat": now}
    claims.update({"nbf": now, "exp": expires_at, "jti": uuid.uuid4().hex})
    newest = dynamodb.query(
        TableName=os.environ["CHATKIT_TABLE"],
        IndexName="by_order",
        KeyConditionExpression="user_id = :u AND begins_with(order_key, :p)",
        ExpressionAttributeValues={":u": {"S": user_id}, ":p": {"S": "thread#"}},
        ScanIndexForward=False,
        ConsistentRead=True,
        Limit=1,
        ProjectionExpression="thread_id",
    ).get("Items", [])
    body = {
        "client_secret": jwt.encode(claims, KEY, algorithm="HS256"),
        "expires_at": expires_at,
        "chatkit_url": os.environ["CHATKIT_URL"],
        "thread_id": newest[0]["thread_id"]["S"] if newest else None,
    }
    return {"statusCode": 201, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
