"""Floor: what checking a user token costs any /mcp handler that checks it in-function.

No MCP layer, no limits, none of our code: PyJWT (with cryptography, as it imports itself), the
key read from UserTokenSecret with botocore, one HS256 verification, and a fixed answer. A
McpFunction cold start with a user token cannot go below this row, whatever it loads lazily.
"""

import os

import botocore.session
import jwt

_key: str | None = None


def handler(event, context):
    global _key
    if _key is None:
        secrets = botocore.session.get_session().create_client("secretsmanager")
        _key = secrets.get_secret_value(
            SecretId=os.environ["USER_TOKEN_SECRET_ARN"], VersionStage="AWSCURRENT"
        )["SecretString"]
    token = event["headers"]["authorization"].split()[1]
    claims = jwt.decode(token, _key, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    return {
        "statusCode": 200,
        "body": '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}',
        "user": claims["sub"],
    }
