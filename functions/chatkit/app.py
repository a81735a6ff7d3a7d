"""POST /chatkit: the self-hosted ChatKit server (openai-chatkit + openai-agents) as an ASGI app.

The Lambda Web Adapter starts it through run.sh and streams its responses; the request
handling lives in ``chatkit_backend.chat``. Everything is built here, at start-up, so the
first request pays no import and no client construction (and SnapStart's snapshot holds it all);
a sandbox restored from the snapshot renews its clients through the adapter's after-restore
hook (``chatkit_backend.aws.snapstart``).
"""

from __future__ import annotations

from chatkit_backend.aws import clients as aws
from chatkit_backend.aws import snapstart
from chatkit_backend.chat.app import create_app
from chatkit_backend.chat.server import ChatKitService
from chatkit_backend.chat.settings import ChatKitSettings

settings = ChatKitSettings.from_env()
service = ChatKitService(settings)
aws.prepare("dynamodb", "secretsmanager", "s3")
snapstart.register_after_restore(service.restored)
app = create_app(service)
