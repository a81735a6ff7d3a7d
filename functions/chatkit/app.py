"""POST /chatkit: the self-hosted ChatKit server (openai-chatkit + openai-agents) as an ASGI app.

The Lambda Web Adapter starts it through run.sh and streams its responses; the request
handling lives in ``chatkit_backend.assistant``. Everything is built here, at start-up, so the
first request pays no import.
"""

from __future__ import annotations

from chatkit_backend.assistant.app import create_app
from chatkit_backend.assistant.server import ChatKitService
from chatkit_backend.assistant.settings import ChatKitSettings

app = create_app(ChatKitService(ChatKitSettings.from_env()))
