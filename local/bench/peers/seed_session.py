"""The seed's session route, as its report shows it, on FastAPI + Mangum: a new OpenAI client
per request and no MCP token. (The seed called ``sessions.create(user=...)`` alone, which the
SDK refuses with TypeError because ``workflow`` is required; the workflow is added here so the
row measures the design, not a crash.)"""

import os

from fastapi import FastAPI, HTTPException, Request
from mangum import Mangum
from openai import OpenAI

app = FastAPI()


@app.post("/api/chatkit/session", status_code=201)
def create_chatkit_session(request: Request):
    context = request.scope["aws.event"]["requestContext"].get("authorizer", {}).get("lambda", {})
    user_id = context.get("user_id")
    if not user_id:
        raise HTTPException(401, "Authentication required")
    client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])
    chat_session = client.beta.chatkit.sessions.create(
        user=user_id, workflow={"id": os.environ["CHATKIT_WORKFLOW_ID"]}
    )
    return {"client_secret": chat_session.client_secret}


handler = Mangum(app, lifespan="off")
