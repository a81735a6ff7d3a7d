"""What the model sees of a thread: ChatKit's default conversion, with three changes.

- Attachments of the message being answered go in as data: images as ``input_image`` and PDFs
  as ``input_file``, both base64 ``data:`` URLs, so the model never needs to reach the private
  bucket. Attachments of earlier messages become a one-line note: re-sending every photo on
  every turn would cost their bytes and tokens again and again. Attachments of threads imported
  from hosted ChatKit are names only (their files stayed with OpenAI): a note too.
- A task widget becomes the few lines ``widgets.summarize`` writes (titles, states, task ids),
  not the widget's JSON.
- Nothing else changes: text, assistant messages and hidden context convert as the SDK does.
"""

from __future__ import annotations

import base64

from agents import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.types import Attachment, ImageAttachment, UserMessageItem, WidgetItem
from openai.types.responses import (
    ResponseInputContentParam,
    ResponseInputFileParam,
    ResponseInputImageParam,
    ResponseInputTextParam,
)
from openai.types.responses.response_input_item_param import Message

from chatkit_backend.chat import widgets
from chatkit_backend.chat.attachments import S3Files
from chatkit_backend.chat.store.context import RequestContext, is_imported


class ModelInputConverter(ThreadItemConverter):
    """Converts one request's thread items for the agent; built per request (it knows the user)."""

    def __init__(self, files: S3Files | None, context: RequestContext) -> None:
        self.files = files
        self.context = context

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputContentParam:
        if is_imported(attachment.metadata):
            # A thread imported from hosted ChatKit: its files stayed with OpenAI.
            return ResponseInputTextParam(
                type="input_text",
                text=f"(The user attached '{attachment.name}' ({attachment.mime_type}); the file is not available here.)",
            )
        content = await self.files.read(self.context.user_id, attachment.id) if self.files else None
        if content is None:
            return ResponseInputTextParam(
                type="input_text", text=f"(The attached file '{attachment.name}' is no longer available.)"
            )
        data_url = f"data:{attachment.mime_type};base64,{base64.b64encode(content).decode()}"
        if isinstance(attachment, ImageAttachment):
            return ResponseInputImageParam(type="input_image", detail="auto", image_url=data_url)
        return ResponseInputFileParam(type="input_file", file_data=data_url, filename=attachment.name)

    async def user_message_to_input(
        self, item: UserMessageItem, is_last_message: bool = True
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        # Only this server's files were shown to the model before; an imported one never was,
        # and keeps its own note (attachment_to_message_content) on every turn.
        seen = [attachment for attachment in item.attachments if not is_imported(attachment.metadata)]
        if is_last_message or not seen:
            return await super().user_message_to_input(item, is_last_message)
        names = ", ".join(f"'{attachment.name}'" for attachment in seen)
        imported = [attachment for attachment in item.attachments if is_imported(attachment.metadata)]
        earlier = item.model_copy(update={"attachments": imported})
        converted = await super().user_message_to_input(earlier, is_last_message)
        note = Message(
            type="message",
            role="user",
            content=[
                ResponseInputTextParam(
                    type="input_text",
                    text=f"(With that message the user attached {names}; you saw it then. "
                    "Ask them to attach it again if you need to look at it once more.)",
                )
            ],
        )
        items = converted if isinstance(converted, list) else [converted] if converted else []
        return [*items, note]

    async def widget_to_input(self, item: WidgetItem) -> TResponseInputItem | list[TResponseInputItem] | None:
        summary = widgets.summarize(item.widget)
        if summary is None:
            return await super().widget_to_input(item)
        return Message(
            type="message", role="user", content=[ResponseInputTextParam(type="input_text", text=summary)]
        )
