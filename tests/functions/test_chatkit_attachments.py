"""Attachments (two-phase uploads to the private bucket), dictation, feedback and retry, in-process.

Uploads go to moto through the presigned URL with ``requests`` (which ``mock_aws`` serves
in-process); the model and the transcription endpoint are the local stand-in, which records
what the OpenAI SDK sent, bytes included.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from local.standins.openai import FakeResponses, Garbled, text
from tests.support.chatkit_app import (
    attach,
    create_attachment,
    create_thread,
    create_thread_with,
    message_with,
    objects,
    send,
    sse_events,
    table_items,
    upload,
    user_message,
)
from tests.support.emf import emf_lines, metric

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # what a photo's bytes look like to S3
PDF = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 20


def model_content(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The content parts of the last user message the model received."""
    messages = [item for item in request["input"] if item.get("role") == "user"]
    return messages[-1]["content"]


def data_of(url: str) -> tuple[str, bytes]:
    header, encoded = url.split(",", 1)
    return header, base64.b64decode(encoded)


def test_an_image_upload_is_two_phase_into_the_private_bucket(app: Any, aws: Any) -> None:
    attachment = create_attachment(app, "shopping list.png", "image/png", len(PNG))
    assert (
        attachment["type"] == "image" and attachment["id"].startswith("atc_") and "metadata" not in attachment
    )
    descriptor = attachment["upload_descriptor"]
    assert descriptor["method"] == "PUT"
    assert descriptor["headers"] == {
        "Content-Type": "image/png",
        "x-amz-tagging": "chatkit-attachment=pending",
    }
    bucket = aws.physical_id("AttachmentsBucket")
    for url in (descriptor["url"], attachment["preview_url"]):
        assert bucket in url and f"/users/alice/{attachment['id']}?" in url and "X-Amz-Signature=" in url
    assert "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bx-amz-tagging" in descriptor["url"]
    assert "X-Amz-Expires=300" in descriptor["url"]
    assert upload(attachment, PNG).status_code == 200
    assert objects(aws) == {f"users/alice/{attachment['id']}": PNG}
    tag_set = aws.client("s3").get_object_tagging(Bucket=bucket, Key=f"users/alice/{attachment['id']}")[
        "TagSet"
    ]
    assert tag_set == [{"Key": "chatkit-attachment", "Value": "pending"}]
    assert requests.get(attachment["preview_url"], timeout=10).content == PNG
    pdf = create_attachment(app, "plan.pdf", "application/pdf", len(PDF))
    assert pdf["type"] == "file" and "preview_url" not in pdf


def test_photos_and_pdfs_reach_the_model_as_data(app: Any, fake: FakeResponses, aws: Any) -> None:
    photo = attach(app, "list.png", "image/png", PNG)
    plan = attach(app, "plan.pdf", "application/pdf", PDF)
    fake.script(text("I see milk and eggs."), text("Sure."))
    thread_id, events = create_thread_with(app, message_with("What is on these?", photo["id"], plan["id"]))
    sent = events[1]["item"]
    assert [a["id"] for a in sent["attachments"]] == [photo["id"], plan["id"]]
    text_part, image_part, file_part = model_content(fake.requests[0])
    assert text_part == {"type": "input_text", "text": "What is on these?"}
    assert image_part["type"] == "input_image" and data_of(image_part["image_url"]) == (
        "data:image/png;base64",
        PNG,
    )
    assert file_part["type"] == "input_file" and file_part["filename"] == "plan.pdf"
    assert data_of(file_part["file_data"]) == ("data:application/pdf;base64", PDF)
    assert "X-Amz-Signature" not in json.dumps(fake.requests[0])  # the model never gets a link
    bucket = aws.physical_id("AttachmentsBucket")
    tag_set = aws.client("s3").get_object_tagging(Bucket=bucket, Key=f"users/alice/{photo['id']}")["TagSet"]
    assert tag_set == [{"Key": "chatkit-attachment", "Value": "attached"}]  # kept now that a message has it
    # The next turn names the files instead of sending their bytes again.
    send(
        app,
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_message("thanks")},
        },
    )
    later = json.dumps(fake.requests[1]["input"])
    assert "data:image/png" not in later and "'list.png', 'plan.pdf'" in later
    # The thread shows the image with a fresh preview link.
    [stored] = [
        i
        for i in send(app, {"type": "items.list", "params": {"thread_id": thread_id}}).json()["data"]
        if i["type"] == "user_message" and i["attachments"]
    ]
    assert (
        "X-Amz-Signature=" in stored["attachments"][0]["preview_url"]
        and "upload_descriptor" not in stored["attachments"][0]
    )


@pytest.mark.parametrize(
    ("case", "status", "detail"),
    [
        pytest.param("another user's attachment", 404, "No attachment", id="another user's attachment"),
        pytest.param("not uploaded", 422, "has not been uploaded", id="not uploaded yet"),
        pytest.param("in another thread", 422, "another conversation", id="already in another thread"),
        pytest.param("too many", 422, "at most 10 attachments", id="too many"),
    ],
)
def test_a_message_with_an_attachment_it_may_not_carry_is_refused(
    app: Any, fake: FakeResponses, aws: Any, case: str, status: int, detail: str
) -> None:
    fake.script(text("ok"))
    bobs = attach(app, "bob.png", "image/png", PNG, "bob")
    own = attach(app, "mine.png", "image/png", PNG)
    pending = create_attachment(app, "later.png", "image/png", len(PNG))
    other_thread, _ = create_thread_with(app, message_with("first", own["id"]))
    ids = {
        "another user's attachment": [bobs["id"]],
        "not uploaded": [pending["id"]],
        "in another thread": [own["id"]],
        "too many": [own["id"]] * 11,
    }[case]
    before = table_items(aws, "ChatKitTable")
    requests_before = len(fake.requests)
    response = send(app, {"type": "threads.create", "params": {"input": message_with("see", *ids)}})
    assert response.status_code == status and detail in response.json()["detail"]
    assert table_items(aws, "ChatKitTable") == before and len(fake.requests) == requests_before
    assert other_thread


def test_deleting_an_attachment_removes_the_file_and_only_the_callers(app: Any, aws: Any) -> None:
    mine = attach(app, "mine.pdf", "application/pdf", PDF)
    bobs = attach(app, "bob.pdf", "application/pdf", PDF, "bob")
    refused = send(app, {"type": "attachments.delete", "params": {"attachment_id": bobs["id"]}})
    assert refused.status_code == 404 and f"users/bob/{bobs['id']}" in objects(aws)
    assert send(app, {"type": "attachments.delete", "params": {"attachment_id": mine["id"]}}).json() == {}
    assert list(objects(aws)) == [f"users/bob/{bobs['id']}"]
    assert (
        send(app, {"type": "attachments.delete", "params": {"attachment_id": mine["id"]}}).status_code == 404
    )


def test_deleting_a_thread_removes_its_files(app: Any, fake: FakeResponses, aws: Any) -> None:
    fake.script(text("ok"), text("ok"))
    photo = attach(app, "a.png", "image/png", PNG)
    kept = attach(app, "b.png", "image/png", PNG)
    thread_id, _ = create_thread_with(app, message_with("one", photo["id"]))
    create_thread_with(app, message_with("two", kept["id"]))
    assert send(app, {"type": "threads.delete", "params": {"thread_id": thread_id}}, "bob").status_code == 404
    assert len(objects(aws)) == 2
    assert send(app, {"type": "threads.delete", "params": {"thread_id": thread_id}}).json() == {}
    assert list(objects(aws)) == [f"users/alice/{kept['id']}"]


def test_dictation_is_transcribed_by_the_configured_model(app: Any, fake: FakeResponses) -> None:
    audio = b"\x1aE\xdf\xa3" + b"opus-frames" * 100
    fake.transcripts.append("Buy milk and call mom")
    response = send(
        app,
        {
            "type": "input.transcribe",
            "params": {
                "audio_base64": base64.b64encode(audio).decode(),
                "mime_type": "audio/webm;codecs=opus",
            },
        },
    )
    assert response.status_code == 200 and response.json() == {"text": "Buy milk and call mom"}
    [received] = fake.transcriptions
    assert (received.model, received.filename, received.content_type, received.audio) == (
        "gpt-4o-mini-transcribe",
        "dictation.webm",
        "audio/webm",
        audio,
    )
    assert fake.authorizations[-1] == "Bearer sk-test-component"


@pytest.mark.parametrize(("upstream", "status"), [(429, 429), (401, 502), (400, 502), (500, 502)])
def test_dictation_upstream_failures_get_a_status_and_no_openai_message(
    app: Any, fake: FakeResponses, upstream: int, status: int
) -> None:
    fake.transcripts.extend([upstream, upstream])  # the SDK retries a 429 or 5xx once
    response = send(
        app,
        {
            "type": "input.transcribe",
            "params": {"audio_base64": base64.b64encode(b"abc").decode(), "mime_type": "audio/mp4"},
        },
    )
    assert response.status_code == status and "stand-in" not in response.json()["detail"]
    if status == 429:
        assert response.headers["retry-after"]


@pytest.mark.parametrize(
    "answer",
    [
        Garbled(b"<html><body>502 Bad Gateway</body></html>", "text/html"),
        Garbled(b"not json", "application/json"),
        Garbled(b'{"text": "cut sh', "application/json"),
        Garbled(b'{"transcript": "Buy milk"}', "application/json"),
        Garbled(b'{"text": 42}', "application/json"),
        Garbled(b'["Buy milk"]', "application/json"),
    ],
)
def test_dictation_answered_200_with_something_else_than_a_transcription_is_502(
    app: Any, fake: FakeResponses, answer: Garbled
) -> None:
    fake.transcripts.append(answer)
    response = send(
        app,
        {
            "type": "input.transcribe",
            "params": {"audio_base64": base64.b64encode(b"abc").decode(), "mime_type": "audio/mp4"},
        },
    )
    assert response.status_code == 502, response.text
    assert response.json() == {
        "detail": "OpenAI answered the transcription with something else than a transcript. Try again."
    }


def test_feedback_is_stored_per_item_and_user(
    app: Any, fake: FakeResponses, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.script(text("Added."))
    thread_id, events = create_thread(app, "add milk")
    answer = events[-1]["item"]["id"]
    body = {
        "type": "items.feedback",
        "params": {"thread_id": thread_id, "item_ids": [answer], "kind": "negative"},
    }
    capsys.readouterr()
    assert send(app, body, "bob").status_code == 404
    assert send(app, body).json() == {}
    # One vote counted for the operators: Bob's refused one is not.
    assert len(metric(emf_lines(capsys.readouterr().out), "Feedback", kind="negative")) == 1
    votes = [r for r in table_items(aws, "ChatKitTable") if r["sk"]["S"].startswith("feedback#")]
    assert [(v["user_id"]["S"], v["item_id"]["S"], v["kind"]["S"]) for v in votes] == [
        ("alice", answer, "negative")
    ]


def test_retry_answers_the_message_again(app: Any, fake: FakeResponses) -> None:
    fake.script(text("First try."), text("Second try."))
    thread_id, events = create_thread(app, "plan my day")
    question = events[1]["item"]["id"]
    retried = send(
        app, {"type": "threads.retry_after_item", "params": {"thread_id": thread_id, "item_id": question}}
    )
    assert retried.status_code == 200
    assert sse_events(retried)[-1]["item"]["content"][0]["text"] == "Second try."
    items = send(app, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}).json()[
        "data"
    ]
    assert [(i["type"], i.get("content", [{}])[0].get("text")) for i in items] == [
        ("user_message", "plan my day"),
        ("assistant_message", "Second try."),
    ]
    assert "First try." not in json.dumps(fake.requests[1]["input"])
    answer = items[1]["id"]
    not_a_question = send(
        app, {"type": "threads.retry_after_item", "params": {"thread_id": thread_id, "item_id": answer}}
    )
    assert (
        not_a_question.status_code == 422
        and "only be retried from a user message" in not_a_question.json()["detail"]
    )
    assert (
        send(
            app,
            {"type": "threads.retry_after_item", "params": {"thread_id": thread_id, "item_id": question}},
            "bob",
        ).status_code
        == 404
    )


def test_the_local_bucket_has_the_templates_settings(aws: Any) -> None:
    s3, bucket = aws.client("s3"), aws.physical_id("AttachmentsBucket")
    assert (
        s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"]
        is True
    )
    [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [cors] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert cors["AllowedOrigins"] == ["http://localhost:3000"] and cors["AllowedHeaders"] == [
        "content-type",
        "x-amz-tagging",
    ]
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert {
        "ID": "expire-files-never-sent",
        "Status": "Enabled",
        "Expiration": {"Days": 1},
        "Filter": {"Tag": {"Key": "chatkit-attachment", "Value": "pending"}},
    } in rules
