"""Where a user's attachment files live in the attachments bucket.

Kept apart from ``assistant.attachments`` (which needs ChatKit) so that UserDataFunction, which
ships without ChatKit, exports and erases exactly the prefix the chat writes under.
"""

from __future__ import annotations

from urllib.parse import quote


def user_prefix(user_id: str) -> str:
    """The S3 prefix of one user's files (``/`` and other specials encoded, so no user's prefix
    is a prefix of another's)."""
    return f"users/{quote(user_id, safe='')}/"


def object_key(user_id: str, attachment_id: str) -> str:
    return f"{user_prefix(user_id)}{attachment_id}"
