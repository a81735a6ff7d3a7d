"""Floor: the task service's call alone (list_tasks or complete_task), with no MCP layer at all.

Every row of a group pays this DynamoDB request; a row's time minus this one is what its
layers (MCP, ChatKit) cost on a call that reaches the database.
"""

import json
import os

from chatkit_backend.tasks.service import TaskService

# Built at init from the function's environment, as the MCP function builds its own.
tasks = TaskService(os.environ.get("TASKS_TABLE", ""))


def handler(event, context):
    params = json.loads(event["body"])["params"]
    arguments = params["arguments"]
    user_id = event["requestContext"]["authorizer"]["lambda"]["user_id"]
    if params["name"] == "complete_task":
        return {
            "statusCode": 200,
            "body": json.dumps(tasks.complete_task(user_id, arguments["task_id"]).to_dict()),
        }
    page = tasks.list_tasks(user_id, status=arguments.get("status", "all"), limit=arguments.get("limit", 20))
    return {
        "statusCode": 200,
        "body": json.dumps({"tasks": [t.to_dict() for t in page.tasks], "next_cursor": page.next_cursor}),
    }
