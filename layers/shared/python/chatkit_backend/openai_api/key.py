"""The OpenAI API key, read from OpenAIApiKeySecret: one reader for every function that calls OpenAI.

The secret holds ``{"api_key": "sk-..."}``. The stack creates it with an empty key (the key never
passes through a CloudFormation parameter) and the operator puts the real one in afterwards.
Until then, and whenever the secret holds no usable key (empty, the documented ``sk-...``
example, ``CHANGE_ME``, not JSON, no value at all), the routes that need it answer 503 with a
sentence that names the secret to set, never a 502 from OpenAI refusing a placeholder.
The key is re-read through the caller's ``SecretCache`` (at most once a minute), so a new key is
picked up without a deploy.
"""

from __future__ import annotations

import json
import re

from botocore.exceptions import ClientError

from chatkit_backend.aws.secrets import SecretCache
from chatkit_backend.errors import NotConfigured

OPENAI_KEY_SETTING = "the OpenAI API key"
# Values that stand in for a key: the template's initial one, the docs' example, samconfig's marker.
PLACEHOLDERS = frozenset({"", "sk-...", "CHANGE_ME"})


def secret_name(secret_id: str) -> str:
    """The secret's name, as `aws secretsmanager put-secret-value --secret-id` takes it.

    An ARN ends in ``secret:<name>-<6 random characters>``; the account id is left out, since the
    sentence reaches whoever called the route.
    """
    found = re.fullmatch(r"arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}", secret_id)
    return found.group(1) if found else secret_id


def not_configured(secret_id: str) -> NotConfigured:
    return NotConfigured(
        OPENAI_KEY_SETTING,
        f'Put it in the secret {secret_name(secret_id)} (the stack\'s OpenAIApiKeySecret) as {{"api_key": "sk-..."}} '
        "with aws secretsmanager put-secret-value (or set OPENAI_API_KEY for make dev).",
    )


def openai_api_key(secrets: SecretCache, secret_id: str) -> str:
    """The key in ``secret_id``; ``NotConfigured`` naming the secret to set when there is none."""
    if not secret_id:
        raise NotConfigured("OPENAI_API_KEY_SECRET_ARN")
    try:
        version = secrets.get(secret_id)
    except ClientError as error:
        # A secret created without a value has no AWSCURRENT version yet.
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise not_configured(secret_id) from None
        raise
    try:
        api_key = json.loads(version.value).get("api_key") if version else None
    except (ValueError, AttributeError):
        api_key = None
    if not isinstance(api_key, str) or api_key.strip() in PLACEHOLDERS:
        raise not_configured(secret_id)
    return api_key.strip()
