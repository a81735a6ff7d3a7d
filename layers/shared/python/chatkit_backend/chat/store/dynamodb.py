"""ChatKit's ``Store`` on DynamoDB: threads and their items in the signed-in user's partition.

The store is split by what it stores: ``threads``, ``items``, ``attachments`` and ``feedback``,
each over ``table`` (the DynamoDB calls they share), with ``context`` holding what one request
knows (``RequestContext``, ``Turn``).

ChatKitTable's records (their keys, the ``by_order`` index that pages threads and items in time
order, a thread's deletion) are ``chatkit_backend.chat.records``'; this module turns them into
ChatKit's models and back. Loading, replacing or deleting one item by id is one key operation;
a page of threads or of a thread's items is one Query; nothing ever scans. ``data`` holds the
ChatKit model as JSON, exactly as ChatKit serialises it.

A thread imported from hosted ChatKit keeps its hosted id (``cthr_...``) and has one more
record, its import mark (``hosted#<thread_id>``, written by ``chatkit_backend.migration``). It
has no ``order_key``, so no listing sees it, and deleting the thread leaves it: a later import
then knows the user deleted the thread and does not bring it back.

Attachments and feedback live in the same partition:
- an attachment record: once a message carries it, it also has ``thread_id`` and an
  ``order_key`` (so deleting the thread finds its files with one Query); until then
  ``expires_at`` lets DynamoDB's TTL drop the record of a file never sent, as the bucket's
  lifecycle rule drops the file;
- feedback: ``kind`` positive or negative, one per item and user (a second vote replaces the first).
The files themselves are in S3, behind ``AttachmentFiles``.

Everything is keyed by the caller's ``user_id``, so another user's thread, item or attachment is
simply not there (``NotFoundError``, as ChatKit expects).

A thread created by a request is written together with its first item, in one transaction: a
``threads.create`` that fails before its message is stored leaves no empty thread behind.

One chat turn reads and writes as little as it can (``Turn``, docs/latency.md):
- the thread and (when the request runs the model) its newest items are read once, in two
  requests sent together; every later read of them in the request is answered from that copy
  and from what the request wrote since, so the turn never reads back what it just wrote;
- the user's message of a turn on an existing thread is written ahead (``Turn.write_ahead``):
  its PutItem goes out while the agent prepares and makes its first model call, and everything
  the turn writes after it is held. The service commits the stream, and the agent's tools run,
  only once that write has landed (``Turn.message_stored``); if it fails, the request answers
  the error and nothing of the turn is stored;
- once the answer streams, its writes (items, the thread's new title) are held and sent at
  the end of the turn with BatchWriteItem, 25 a request, before the stream ends. A read the copy
  cannot answer sends the held writes first, so no read ever misses one.
"""

from __future__ import annotations

from chatkit.store import Store

from chatkit_backend.chat.store.attachments import AttachmentRecords
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.feedback import FeedbackRecords
from chatkit_backend.chat.store.items import ItemRecords
from chatkit_backend.chat.store.threads import ThreadRecords


class DynamoDBStore(ThreadRecords, ItemRecords, AttachmentRecords, FeedbackRecords, Store[RequestContext]):
    """Threads and items of ChatKit in one DynamoDB table, partitioned by user."""
