"""POST /chatkit: the self-hosted ChatKit server (openai-chatkit + openai-agents) as an ASGI app.

The Lambda Web Adapter starts it through run.sh and streams its responses; the request
handling lives in ``chatkit_backend.assistant``. Everything is built here, at start-up, so the
first request pays no import and no client construction (and SnapStart's snapshot holds it all);
a sandbox restored from the snapshot renews its clients through the adapter's after-restore
hook (``chatkit_backend.snapstart``).
"""

from __future__ import annotations

from chatkit_backend import aws, snapstart
from chatkit_backend.assistant.app import create_app
from chatkit_backend.assistant.server import ChatKitService
from chatkit_backend.assistant.settings import ChatKitSettings

service = ChatKitService(ChatKitSettings.from_env())
aws.prepare("dynamodb", "secretsmanager", "s3")
snapstart.register_after_restore(service.restored)
app = create_app(service)
