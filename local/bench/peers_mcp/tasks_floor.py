"""Floor: the task service's list_tasks call alone, with no MCP layer at all.

Every MCP row of the list_tasks group pays this DynamoDB request; a row's time minus this one
is what its MCP layer costs on a call that reaches the database.
"""

import json

from chatkit_backend import tasks


def handler(event, context):
    arguments = json.loads(event["body"])["params"]["arguments"]
    user_id = event["requestContext"]["authorizer"]["lambda"]["user_id"]
    page = tasks.list_tasks(user_id, status=arguments.get("status", "all"), limit=arguments.get("limit", 20))
    return {"statusCode": 200, "body": json.dumps({"tasks": [t.to_dict() for t in page.tasks], "next_cursor": page.next_cursor})}
