"""The upstream call alone: the openai SDK creating a ChatKit session, client built once.

The floor for POST /api/chatkit/session: SessionFunction's warm time minus this row's is what
the function adds (event parsing, FastAPI, identity, the MCP token, the response).
"""

import json
import os

import openai

client = openai.OpenAI(api_key=os.environ["OPENAI_API_KEY"], max_retries=0)
WORKFLOW = {"id": os.environ["CHATKIT_WORKFLOW_ID"]}


def handler(event, context):
    session = client.beta.chatkit.sessions.create(user="user-1", workflow=WORKFLOW)
    body = {"client_secret": session.client_secret, "expires_at": session.expires_at}
    return {"statusCode": 201, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
