"""The write side alone: BatchWriteItem of exactly the records ImportHostedThreadsFunction
writes for one call (items, threads and import marks, built once at import time from the same
stand-in with the import's own conversion and the store's own record layout), sent in batches
of 25 by as many workers as the import runs threads at once.

The floor under ImportHostedThreadsFunction's row for what DynamoDB costs; its cold figure
includes reading and converting the history once, and means nothing.
"""

import json
import os
from concurrent.futures import ThreadPoolExecutor

import openai
from chatkit_backend.aws.clients import BATCH_WRITE_SIZE as BATCH_SIZE
from chatkit_backend.aws.clients import client
from chatkit_backend.chat.store.items import item_record
from chatkit_backend.chat.store.threads import thread_record
from chatkit_backend.migration.convert import convert_item, convert_thread, item_time

TABLE = os.environ["CHATKIT_TABLE"]
CONCURRENCY = int(os.environ.get("IMPORT_CONCURRENCY", "4"))


def records_per_thread() -> list[list[dict]]:
    sdk = openai.OpenAI(
        api_key=os.environ["OPENAI_API_KEY"], base_url=os.environ["OPENAI_BASE_URL"], max_retries=0
    )
    threads = []
    for hosted in sdk.beta.chatkit.threads.list(limit=100, order="asc"):
        items = [
            convert_item(item, hosted.id, item_time(item.created_at, position))
            for position, item in enumerate(
                sdk.beta.chatkit.threads.list_items(hosted.id, limit=100, order="asc")
            )
        ]
        records = [item_record(hosted.id, item, hosted.user) for item in items]
        records.append(thread_record(convert_thread(hosted), hosted.user))
        mark = {
            "resume_after": items[-2].id,
            "resume_position": len(items) - 1,
            "items": len(items),
            "title": hosted.title,
        }
        records.append(
            {
                "user_id": {"S": hosted.user},
                "sk": {"S": f"hosted#{hosted.id}"},
                "thread_id": {"S": hosted.id},
                "data": {"S": json.dumps(mark)},
            }
        )
        threads.append(records)
    return threads


THREADS = records_per_thread()
dynamodb = client("dynamodb")


def write(records: list[dict]) -> None:
    for index in range(0, len(records), BATCH_SIZE):
        pending = [{"PutRequest": {"Item": record}} for record in records[index : index + BATCH_SIZE]]
        while pending:
            pending = (
                dynamodb.batch_write_item(RequestItems={TABLE: pending})
                .get("UnprocessedItems", {})
                .get(TABLE, [])
            )


pool = ThreadPoolExecutor(CONCURRENCY)


def handler(event, context):
    list(pool.map(write, THREADS))
    return {"items": sum(len(records) - 2 for records in THREADS)}
