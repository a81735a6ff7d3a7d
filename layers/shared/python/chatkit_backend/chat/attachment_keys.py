"""Where a user's attachment files live in the attachments bucket, and their deletion.

Kept apart from ``chat.attachments`` (which needs ChatKit) so that the functions that ship
without ChatKit (UserDataFunction, ThreadsFunction) reach exactly the keys the chat writes.
"""

from __future__ import annotations

from urllib.parse import quote

from chatkit_backend.aws.clients import client


def user_prefix(user_id: str) -> str:
    """The S3 prefix of one user's files (``/`` and other specials encoded, so no user's prefix
    is a prefix of another's)."""
    return f"users/{quote(user_id, safe='')}/"


def object_key(user_id: str, attachment_id: str) -> str:
    return f"{user_prefix(user_id)}{attachment_id}"


def delete_files(bucket: str, user_id: str, attachment_ids: list[str]) -> None:
    """Delete the user's files with these ids (a file already gone is no error)."""
    # DeleteObject per file, not DeleteObjects: the latter needs Content-MD5 and a bulk
    # permission; a thread rarely has more than a handful of files.
    for attachment_id in attachment_ids:
        client("s3").delete_object(Bucket=bucket, Key=object_key(user_id, attachment_id))
