"""Every size limit of the API, in one place, and the one check for forbidden characters.

The task service, the MCP tool schemas, the FastAPI models of the thread routes and the ChatKit
server import their limits from here, so a limit is written once and documented once
(docs/chatkit-errors.md). The ChatKit limits sit well under DynamoDB's 400 KB item size: a
refused request is refused before anything is stored, never half-way through.

This module imports nothing outside the standard library: the MCP function reads its tool
schemas from here without loading the AWS SDK.
"""

from __future__ import annotations

import re

# Tokens: a bearer token as read, and its subject (the user id, a key in every table, in answers
# and in logs). A chat session token lives at most SESSION_MAX_SECONDS: the refresh is a new
# POST /api/chatkit/session before then.
TOKEN_MAX_CHARS = 8192
USER_ID_MAX_CHARS = 256
SESSION_MAX_SECONDS = 600

# Tasks (TasksTable, the MCP tools and the assistant's tools).
TASK_TITLE_MAX_CHARS = 200
TASK_DESCRIPTION_MAX_CHARS = 1000
# A task_id as a caller may send it (ours are 26-character ULIDs; longer is refused unread).
TASK_ID_MAX_CHARS = 64
# A page of tasks, ChatKit threads or items: the default and the most.
PAGE_LIMIT_DEFAULT = 20
PAGE_LIMIT_MAX = 100
# The next_cursor a page hands out, as a caller may send it back.
CURSOR_MAX_CHARS = 512

# Threads: a ChatKit thread's title.
THREAD_TITLE_MAX_CHARS = 200
# A ChatKit thread id (hosted ``cthr_<hex>``, self-hosted ``thr_<hex>``), and any other id of
# ChatKitTable (items, attachments).
THREAD_ID_MAX_CHARS = 128

# One POST /mcp request body (MCP_MAX_BODY_BYTES may set another).
MCP_BODY_MAX_BYTES = 64 * 1024

# ChatKit requests (POST /chatkit).
REQUEST_BODY_MAX_BYTES = 1024 * 1024
# The text of one user message: its input_text parts and the quoted text, together.
MESSAGE_TEXT_MAX_CHARS = 32_000
# One user message as stored (text, tags and their data, options), as JSON.
MESSAGE_MAX_BYTES = 128 * 1024
# The result a client tool sends back (threads.add_client_tool_output), as JSON.
TOOL_OUTPUT_MAX_BYTES = 64 * 1024
# The answers of one structured input submission (threads.add_structured_input), as JSON.
STRUCTURED_INPUT_MAX_BYTES = 16 * 1024
# Items named by one items.feedback request.
FEEDBACK_ITEMS_MAX = 50
# Files one message may carry, each at most the AttachmentMaxBytes template parameter (its
# default here), with a name of at most ATTACHMENT_NAME_MAX_CHARS as stored.
ATTACHMENTS_PER_MESSAGE_MAX = 10
ATTACHMENT_MAX_BYTES_DEFAULT = 10 * 1024 * 1024
ATTACHMENT_NAME_MAX_CHARS = 255
# Dictation (input.transcribe): the audio, about 12 minutes of ChatKit's opus recording, and the
# request that carries it as base64; under Lambda's 6 MB request payload.
DICTATION_AUDIO_MAX_BYTES = 3 * 1024 * 1024
TRANSCRIBE_BODY_MAX_BYTES = DICTATION_AUDIO_MAX_BYTES * 4 // 3 + 64 * 1024
# One ChatKit item imported from hosted ChatKit, as stored JSON: under DynamoDB's 400 KB item
# size with the record's keys. A larger one is counted as not convertible, never half-written.
IMPORTED_ITEM_MAX_BYTES = 384 * 1024

# GET /api/me/export: the document, under Lambda's 6 MB answer; past it the export says what it left out.
EXPORT_MAX_BYTES = 5_000_000

# Newline and tab are text; every other control character, and the lone surrogates JSON can
# smuggle in as "\ud800" (which DynamoDB cannot store), is refused in titles and task fields.
# (Unicode's control characters, category Cc, are exactly U+0000-001F and U+007F-009F.)
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def forbidden_character(value: str) -> str | None:
    """The first character of ``value`` that no title or task field may hold, as ``U+XXXX``; else None."""
    found = _FORBIDDEN.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"
