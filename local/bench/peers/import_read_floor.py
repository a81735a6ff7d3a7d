"""The read side alone: the openai SDK listing every hosted thread and all its items, as many
threads at once as the import reads (IMPORT_CONCURRENCY), a new client per call as the import
makes one per run.

The floor under ImportHostedThreadsFunction's rows for what OpenAI's answers cost: the gap
between the two is the conversion and the DynamoDB reads and writes.
"""

import asyncio
import os

import openai

CONCURRENCY = int(os.environ.get("IMPORT_CONCURRENCY", "4"))


async def read_everything() -> int:
    client = openai.AsyncOpenAI(
        api_key=os.environ["OPENAI_API_KEY"], base_url=os.environ["OPENAI_BASE_URL"], max_retries=0
    )
    gate = asyncio.Semaphore(CONCURRENCY)

    async def items(thread_id: str) -> int:
        async with gate:
            return len(
                [
                    item
                    async for item in client.beta.chatkit.threads.list_items(
                        thread_id, limit=100, order="asc"
                    )
                ]
            )

    try:
        threads = [thread async for thread in client.beta.chatkit.threads.list(limit=100, order="asc")]
        return sum(await asyncio.gather(*(items(thread.id) for thread in threads)))
    finally:
        await client.close()


def handler(event, context):
    return {"items": asyncio.run(read_everything())}
