"""The OpenAI API key, read from OpenAIApiKeySecret: one reader for every function that calls OpenAI.

The secret holds ``{"api_key": "sk-..."}``. The key is re-read through the caller's
``SecretCache`` (at most once a minute), so a new key is picked up without a deploy.
"""

from __future__ import annotations

import json

from chatkit_backend.errors import NotConfigured
from chatkit_backend.secrets import SecretCache

OPENAI_KEY_SETTING = "the OpenAI API key"
OPENAI_KEY_HINT = (
    'Store {"api_key": "sk-..."} in the OpenAIApiKeySecret secret (or set OPENAI_API_KEY for make dev).'
)


def openai_api_key(secrets: SecretCache, secret_id: str) -> str:
    """The key in ``secret_id``; ``NotConfigured`` naming what to set when there is none."""
    if not secret_id:
        raise NotConfigured("OPENAI_API_KEY_SECRET_ARN")
    version = secrets.get(secret_id)
    try:
        api_key = json.loads(version.value).get("api_key") if version else None
    except (ValueError, AttributeError):
        api_key = None
    if not isinstance(api_key, str) or not api_key.strip():
        raise NotConfigured(OPENAI_KEY_SETTING, OPENAI_KEY_HINT)
    return api_key.strip()
