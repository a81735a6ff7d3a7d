"""Attachments: photos of a list, a PDF of a plan. Two-phase uploads straight to a private bucket.

``attachments.create`` checks the type and size, and answers an ``upload_descriptor``: a
presigned S3 PUT that is valid for a few minutes and signs the content type, the exact length
and the ``pending`` tag, so the browser can upload exactly that file and nothing else. Images
also get a ``preview_url``, a presigned GET. The bucket stays private: the model receives the
bytes inline (``model_input.py``), never a link.

Objects live under the uploader's prefix, ``users/<user id, percent-encoded>/<attachment id>``;
the key is derived from the caller and the id, so one user's request can never name another
user's object. An object keeps its ``pending`` tag (the bucket's lifecycle rule removes it after a
day) until a message carries it; then it is tagged ``attached`` and kept until its thread or the
attachment is deleted.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from chatkit.store import AttachmentStore
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)

from chatkit_backend.aws.clients import client
from chatkit_backend.chat.attachment_keys import delete_files, object_key
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.errors import InvalidInput, NotConfigured, PayloadTooLarge
from chatkit_backend.limits import ATTACHMENT_NAME_MAX_CHARS

# What the model reads inline: images as input_image, PDFs as input_file.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
FILE_TYPES = ("application/pdf",)
ALLOWED_TYPES = IMAGE_TYPES + FILE_TYPES
ALLOWED_DESCRIPTION = "PNG, JPEG, WebP or GIF images and PDF documents"
UPLOAD_URL_SECONDS = 300
PREVIEW_URL_SECONDS = 3600
# The tag the bucket's lifecycle rule expires, and the one a sent message puts in its place.
STATE_TAG = "chatkit-attachment"
PENDING_TAGGING = f"{STATE_TAG}=pending"


def media_type(mime_type: str) -> str:
    """``image/PNG; name=x`` -> ``image/png``."""
    return mime_type.split(";", 1)[0].strip().lower()


@dataclass
class S3Files:
    """The attachment bytes in the private bucket; implements the store's ``AttachmentFiles``."""

    bucket: str
    max_bytes: int

    def _s3(self) -> Any:
        if not self.bucket:
            raise NotConfigured(
                "ATTACHMENTS_BUCKET", "Deploy with template.yaml, which creates the attachments bucket."
            )
        return client("s3")

    def upload_descriptor(
        self, user_id: str, attachment_id: str, mime_type: str, size: int
    ) -> AttachmentUploadDescriptor:
        url = self._s3().generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": object_key(user_id, attachment_id),
                "ContentType": mime_type,
                "ContentLength": size,
                "Tagging": PENDING_TAGGING,
            },
            ExpiresIn=UPLOAD_URL_SECONDS,
        )
        # The signed headers the browser must send as they are (it sets Content-Length itself).
        headers = {"Content-Type": mime_type, "x-amz-tagging": PENDING_TAGGING}
        return AttachmentUploadDescriptor(url=url, method="PUT", headers=headers)

    def preview_url(self, user_id: str, attachment_id: str) -> str:
        return self._s3().generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": object_key(user_id, attachment_id)},
            ExpiresIn=PREVIEW_URL_SECONDS,
        )

    async def uploaded_size(self, user_id: str, attachment_id: str) -> int | None:
        """The stored object's size, or None when nothing was uploaded (yet)."""
        head = await self._object("head_object", user_id, attachment_id)
        return None if head is None else int(head["ContentLength"])

    async def read(self, user_id: str, attachment_id: str) -> bytes | None:
        """The file's bytes (at most ``max_bytes``: a bigger object is refused), None if gone."""
        response = await self._object("get_object", user_id, attachment_id)
        if response is None:
            return None
        body = response["Body"]
        try:
            if int(response.get("ContentLength", 0)) > self.max_bytes:
                raise PayloadTooLarge(f"An attachment is over {self.max_bytes} bytes.")
            return await asyncio.to_thread(body.read)
        finally:
            body.close()

    async def _object(self, operation: str, user_id: str, attachment_id: str) -> dict[str, Any] | None:
        """S3's answer to HeadObject or GetObject for the user's file; None when there is none."""
        try:
            return await asyncio.to_thread(
                getattr(self._s3(), operation), Bucket=self.bucket, Key=object_key(user_id, attachment_id)
            )
        except ClientError as error:
            if _missing(error):
                return None
            raise

    async def mark_attached(self, user_id: str, attachment_id: str) -> None:
        await asyncio.to_thread(
            self._s3().put_object_tagging,
            Bucket=self.bucket,
            Key=object_key(user_id, attachment_id),
            Tagging={"TagSet": [{"Key": STATE_TAG, "Value": "attached"}]},
        )

    async def delete_files(self, user_id: str, attachment_ids: list[str]) -> None:
        self._s3()  # NotConfigured without a bucket
        await asyncio.to_thread(delete_files, self.bucket, user_id, attachment_ids)


class S3AttachmentStore(AttachmentStore[RequestContext]):
    """ChatKit's two-phase ``AttachmentStore`` over ``S3Files``; records live in ``DynamoDBStore``."""

    def __init__(self, files: S3Files) -> None:
        self.files = files

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return f"atc_{uuid.uuid4().hex}"

    async def create_attachment(self, input: AttachmentCreateParams, context: RequestContext) -> Attachment:
        mime_type = check_upload(input, self.files.max_bytes)
        name = clean_name(input.name)
        attachment_id = self.generate_attachment_id(mime_type, context)
        descriptor = self.files.upload_descriptor(context.user_id, attachment_id, mime_type, input.size)
        if mime_type in IMAGE_TYPES:
            return ImageAttachment(
                id=attachment_id,
                name=name,
                mime_type=mime_type,
                upload_descriptor=descriptor,
                preview_url=self.files.preview_url(context.user_id, attachment_id),
            )
        return FileAttachment(id=attachment_id, name=name, mime_type=mime_type, upload_descriptor=descriptor)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # The request checks (checks.attachment_is_callers) found the caller's record first; the
        # key is under the caller's own prefix, so no id can reach another user's file anyway.
        await self.files.delete_files(context.user_id, [attachment_id])


def check_upload(params: AttachmentCreateParams, max_bytes: int) -> str:
    """The upload's media type when it may be uploaded; InvalidInput naming what is allowed."""
    clean_name(params.name)
    mime_type = media_type(params.mime_type)
    if mime_type not in ALLOWED_TYPES:
        raise InvalidInput(
            f"Files of type '{params.mime_type[:100]}' cannot be attached. "
            f"Allowed: {ALLOWED_DESCRIPTION} ({', '.join(ALLOWED_TYPES)})."
        )
    if params.size <= 0:
        raise InvalidInput("The file is empty: size must be at least 1 byte.")
    if params.size > max_bytes:
        raise InvalidInput(
            f"The file is {params.size} bytes; attachments may be at most {max_bytes} bytes "
            f"({max_bytes / 1024 / 1024:.1f} MiB)."
        )
    return mime_type


def clean_name(name: str) -> str:
    """The file name as shown: printable characters, at most 255; InvalidInput when none is left."""
    cleaned = "".join(ch for ch in name if ch.isprintable()).strip()[:ATTACHMENT_NAME_MAX_CHARS]
    if not cleaned:
        raise InvalidInput("The file needs a name.")
    return cleaned


def _missing(error: ClientError) -> bool:
    """S3's "no such object" (HeadObject says 404, GetObject NoSuchKey)."""
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")
