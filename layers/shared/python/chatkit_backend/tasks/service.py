"""The signed-in user's tasks in DynamoDB: add, list, complete, update, delete.

Every operation is exactly one DynamoDB request, so a tool call costs one round trip and
cannot half-apply. Items live under the caller's ``user_id`` partition; writes name the full
key and carry a condition, so a task that does not exist, or is another user's (which is the
same thing: it is not in this partition), is never created, overwritten or removed by accident.

Items: ``user_id`` (PK), ``task_id`` (SK, time-sortable), ``title``, ``description``?,
``status`` (pending | completed), ``status_task_id`` (``<status>#<task_id>``, the sort key of
the ``by_status`` local index that lets ``list_tasks(status=...)`` read full pages without a
filter), ``created_at``, ``updated_at``, ``completed_at``?.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from chatkit_backend.aws.clients import client, is_condition_failure
from chatkit_backend.aws.cursor import decode_cursor, encode_cursor
from chatkit_backend.errors import InvalidInput, NotConfigured, TaskNotFound
from chatkit_backend.limits import (
    PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX,
    TASK_DESCRIPTION_MAX_CHARS,
    TASK_ID_MAX_CHARS,
    TASK_TITLE_MAX_CHARS,
    forbidden_character,
)

TaskStatus = Literal["pending", "completed"]
StatusFilter = Literal["all", "pending", "completed"]

STATUS_INDEX = "by_status"

# Crockford base32, as ULIDs spell it: sorts in time order as a plain string.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TASK_ID_CHARS = frozenset(_CROCKFORD)
TASK_ID_LENGTH = 26


@dataclass(frozen=True)
class Task:
    task_id: str
    title: str
    description: str | None
    status: TaskStatus
    created_at: str
    updated_at: str
    completed_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The task as tools and REST show it (no user_id: the caller knows who they are)."""
        data: dict[str, Any] = {
            "task_id": self.task_id,
            "title": self.title,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.description is not None:
            data["description"] = self.description
        if self.completed_at is not None:
            data["completed_at"] = self.completed_at
        return data


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    next_cursor: str | None


def new_task_id(now_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time then 80 random bits, so ids sort by creation time."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    value = (stamp << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(TASK_ID_LENGTH):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def normalize_task_id(task_id: Any) -> str:
    """``task_id`` upper-cased, or ``TaskNotFound`` when it cannot be an id this service issued."""
    if not isinstance(task_id, str):
        raise InvalidInput("task_id must be a string: use a task_id from list_tasks.")
    candidate = task_id.strip().upper()
    if len(candidate) != TASK_ID_LENGTH or not _TASK_ID_CHARS.issuperset(candidate):
        raise TaskNotFound(task_id[:TASK_ID_MAX_CHARS])
    return candidate


def clean_title(title: Any) -> str:
    if not isinstance(title, str):
        raise InvalidInput(f"title must be a string of 1 to {TASK_TITLE_MAX_CHARS} characters.")
    cleaned = title.strip()
    if not cleaned:
        raise InvalidInput("title must not be empty: give the task a short name.")
    if len(cleaned) > TASK_TITLE_MAX_CHARS:
        raise InvalidInput(
            f"title is {len(cleaned)} characters; shorten it to at most {TASK_TITLE_MAX_CHARS}."
        )
    _refuse_control_characters("title", cleaned)
    return cleaned


def clean_description(description: Any) -> str | None:
    """The description to store; an empty string means 'no description'."""
    if description is None:
        return None
    if not isinstance(description, str):
        raise InvalidInput(
            f"description must be a string of at most {TASK_DESCRIPTION_MAX_CHARS} characters."
        )
    cleaned = description.strip()
    if len(cleaned) > TASK_DESCRIPTION_MAX_CHARS:
        raise InvalidInput(
            f"description is {len(cleaned)} characters; shorten it to at most {TASK_DESCRIPTION_MAX_CHARS}."
        )
    _refuse_control_characters("description", cleaned)
    return cleaned


def _refuse_control_characters(field: str, value: str) -> None:
    character = forbidden_character(value)
    if character is not None:
        raise InvalidInput(
            f"{field} contains the control character {character}; only newline and tab are allowed."
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _task_from_item(item: dict[str, Any]) -> Task:
    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else value["S"]

    return Task(
        task_id=item["task_id"]["S"],
        title=item["title"]["S"],
        description=text("description"),
        status=item["status"]["S"],  # type: ignore[arg-type]
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        completed_at=text("completed_at"),
    )


@dataclass(frozen=True)
class TaskService:
    """The tasks in one TasksTable; built once per container from the function's settings."""

    table: str

    def _table(self) -> str:
        # Refused per call, like any other 503, so a misdeployed function still starts and says why.
        if not self.table:
            raise NotConfigured("TASKS_TABLE", "Deploy with template.yaml, which sets it to the TasksTable.")
        return self.table

    def add_task(self, user_id: str, title: Any, description: Any = None) -> Task:
        """Create a pending task; one conditional PutItem (never overwrites an existing id)."""
        title = clean_title(title)
        description = clean_description(description) or None
        task_id = new_task_id()
        now = _now()
        item: dict[str, Any] = {
            "user_id": {"S": user_id},
            "task_id": {"S": task_id},
            "title": {"S": title},
            "status": {"S": "pending"},
            "status_task_id": {"S": f"pending#{task_id}"},
            "created_at": {"S": now},
            "updated_at": {"S": now},
        }
        if description:
            item["description"] = {"S": description}
        client("dynamodb").put_item(
            TableName=self._table(),
            Item=item,
            ConditionExpression="attribute_not_exists(task_id)",
        )
        return _task_from_item(item)

    def list_tasks(
        self, user_id: str, status: Any = "all", limit: Any = PAGE_LIMIT_DEFAULT, cursor: Any = None
    ) -> TaskPage:
        """One page of the user's tasks, oldest first; one Query (base table or the status index)."""
        if status not in ("all", "pending", "completed"):
            raise InvalidInput("status must be one of: all, pending, completed.")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT_MAX:
            raise InvalidInput(f"limit must be a whole number from 1 to {PAGE_LIMIT_MAX}.")
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidInput("cursor must be the next_cursor string from the previous page.")
        start_key = decode_cursor(cursor, user_id)
        request: dict[str, Any] = {
            "TableName": self._table(),
            "Limit": limit,
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":u": {"S": user_id}},
        }
        if status == "all":
            request["KeyConditionExpression"] = "user_id = :u"
            expected_keys = {"user_id", "task_id"}
        else:
            request["IndexName"] = STATUS_INDEX
            request["KeyConditionExpression"] = "user_id = :u AND begins_with(status_task_id, :s)"
            request["ExpressionAttributeValues"][":s"] = {"S": f"{status}#"}
            expected_keys = {"user_id", "task_id", "status_task_id"}
        if start_key is not None:
            # A cursor from another listing (other status) or a forged one would make DynamoDB
            # answer ValidationException; refuse it here with a sentence the caller can act on.
            position = start_key.get("status_task_id", {}).get("S", f"{status}#")
            if set(start_key) != expected_keys or not position.startswith(f"{status}#"):
                raise InvalidInput(
                    "cursor is not valid for this listing: pass next_cursor unchanged with the same status."
                )
            request["ExclusiveStartKey"] = start_key
        try:
            response = client("dynamodb").query(**request)
        except ClientError as error:
            if start_key is not None and error.response.get("Error", {}).get("Code") == "ValidationException":
                raise InvalidInput(
                    "cursor is not valid for this listing: pass next_cursor unchanged with the same status."
                ) from None
            raise
        tasks = [_task_from_item(item) for item in response.get("Items", [])]
        return TaskPage(tasks=tasks, next_cursor=encode_cursor(response.get("LastEvaluatedKey")))

    def complete_task(self, user_id: str, task_id: Any) -> Task:
        """Mark the task completed (idempotent: completing twice keeps the first completed_at)."""
        task_id = normalize_task_id(task_id)
        now = _now()
        return self._update(
            user_id,
            task_id,
            "SET #s = :completed, status_task_id = :sk, updated_at = :now, "
            "completed_at = if_not_exists(completed_at, :now)",
            {":completed": {"S": "completed"}, ":sk": {"S": f"completed#{task_id}"}, ":now": {"S": now}},
            {"#s": "status"},
        )

    def update_task(self, user_id: str, task_id: Any, title: Any = None, description: Any = None) -> Task:
        """Change the title and/or description; an empty description removes it."""
        task_id = normalize_task_id(task_id)
        if title is None and description is None:
            raise InvalidInput("Nothing to update: give a new title, a new description, or both.")
        sets = ["updated_at = :now"]
        removes: list[str] = []
        values: dict[str, Any] = {":now": {"S": _now()}}
        if title is not None:
            sets.append("title = :title")
            values[":title"] = {"S": clean_title(title)}
        if description is not None:
            cleaned = clean_description(description)
            if cleaned:
                sets.append("description = :description")
                values[":description"] = {"S": cleaned}
            else:
                removes.append("description")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        return self._update(user_id, task_id, expression, values, None)

    def delete_task(self, user_id: str, task_id: Any) -> Task:
        """Remove the task and return what it was; one conditional DeleteItem."""
        task_id = normalize_task_id(task_id)
        try:
            response = client("dynamodb").delete_item(
                TableName=self._table(),
                Key={"user_id": {"S": user_id}, "task_id": {"S": task_id}},
                ConditionExpression="attribute_exists(task_id)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise TaskNotFound(task_id) from None
            raise
        return _task_from_item(response["Attributes"])

    def _update(
        self,
        user_id: str,
        task_id: str,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None,
    ) -> Task:
        request: dict[str, Any] = {
            "TableName": self._table(),
            "Key": {"user_id": {"S": user_id}, "task_id": {"S": task_id}},
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(task_id)",
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            response = client("dynamodb").update_item(**request)
        except ClientError as error:
            if is_condition_failure(error):
                raise TaskNotFound(task_id) from None
            raise
        return _task_from_item(response["Attributes"])
