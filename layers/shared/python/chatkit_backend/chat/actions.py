"""Widget actions the server handles: a task widget's "Complete" button (``task.complete``).

The action names only ``{"task_id": ...}``; the user is the caller's, from the authorizer, and
the change is one conditional DynamoDB request (``tasks.complete_task``), as the tools make it:
a task that is not the caller's is "not found" and nothing changes. ChatKit has already loaded
the thread and the widget that sent the action from the caller's partition, so another user's
thread or widget never gets this far.

What the user then sees: the widget that sent the action, re-rendered in place with the task
done (or, when it does not show that task, a card for it); the model is told in a hidden note;
and the frontend gets a ``tasks.changed`` client effect so the app's own task views can refresh.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit.types import (
    Action,
    ClientEffectEvent,
    HiddenContextItem,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetItem,
)

from chatkit_backend.chat import widgets
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.dynamodb import DynamoDBStore
from chatkit_backend.errors import InvalidInput
from chatkit_backend.tasks.service import Task

TASKS_CHANGED_EFFECT = "tasks.changed"


@dataclass(frozen=True)
class ActionOutcome:
    """What a handled action changed, and the thread items that show it."""

    task: Task
    # The sender re-rendered in place, when it shows the task; else a new card to add.
    replaced: WidgetItem | None
    card: WidgetItem | None
    note: HiddenContextItem

    def events(self) -> list[ThreadStreamEvent]:
        shown: ThreadStreamEvent = (
            ThreadItemReplacedEvent(item=self.replaced)
            if self.replaced
            else ThreadItemDoneEvent(item=self.card)
        )
        effect = ClientEffectEvent(
            name=TASKS_CHANGED_EFFECT, data={"task_id": self.task.task_id, "status": self.task.status}
        )
        # The hidden note is stored by ChatKit but never sent to the client.
        return [shown, ThreadItemDoneEvent(item=self.note), effect]


def task_id_of(action: Action[str, Any]) -> str:
    """The task id of a ``task.complete`` action; InvalidInput for anything else."""
    if action.type != widgets.COMPLETE_ACTION:
        raise InvalidInput(
            f"Unknown action '{str(action.type)[:64]}'. This server handles: {widgets.COMPLETE_ACTION}."
        )
    payload = action.payload
    if (
        not isinstance(payload, dict)
        or set(payload) != {"task_id"}
        or not isinstance(payload["task_id"], str)
    ):
        raise InvalidInput(
            f'The {widgets.COMPLETE_ACTION} action takes a payload of {{"task_id": "<id>"}} only.'
        )
    return payload["task_id"]


async def complete_from_widget(
    store: DynamoDBStore,
    thread: ThreadMetadata,
    action: Action[str, Any],
    sender: WidgetItem | None,
    context: RequestContext,
) -> ActionOutcome:
    """Complete the action's task for the caller; domain errors (not found, bad payload) raise
    before anything is changed or shown."""
    task_id = task_id_of(action)
    task = await asyncio.to_thread(context.task_service().complete_task, context.user_id, task_id)
    now = datetime.now()  # noqa: DTZ005 - ChatKit's items carry naive times (chatkit.agents subtracts datetime.now() from them)
    updated = widgets.with_task(sender.widget, task) if sender is not None else None
    replaced = card = None
    if sender is not None and updated is not None:
        replaced = sender.model_copy(update={"widget": updated, "copy_text": widgets.copy_text(updated)})
    else:
        widget = widgets.task_card(task, "completed")
        card = WidgetItem(
            id=store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=now,
            widget=widget,
            copy_text=widgets.copy_text(widget),
        )
    note = HiddenContextItem(
        id=store.generate_item_id("message", thread, context),
        thread_id=thread.id,
        created_at=now,
        content=f"The user completed the task '{task.title}' (task_id {task.task_id}) with its Complete button.",
    )
    return ActionOutcome(task=task, replaced=replaced, card=card, note=note)
