"""The task widgets the chat shows: a task list and a compact card per changed task.

Both are ``.widget`` templates (``templates/``, the format ChatKit Studio exports) rendered by
the SDK's ``WidgetTemplate``: the SDK's named widget classes are deprecated. Every pending task
carries a "Complete" button whose action (``task.complete``, handled by the server) names only
the task id; the user is always the caller's.

A widget is keyed by task: a list row's ``key`` and a card's ``key`` are the ``task_id``. That
is what lets an action re-render one task in place, and what ``summarize`` reads to give the
model a few lines of text instead of the widget's JSON.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from chatkit.widgets import DynamicWidgetRoot, WidgetRoot, WidgetTemplate
from pydantic import BaseModel

from chatkit_backend.tasks.service import Task

COMPLETE_ACTION = "task.complete"
TEMPLATES = Path(__file__).parent / "templates"
TASK_LIST = WidgetTemplate.from_file(str(TEMPLATES / "task_list.widget"))
TASK_CARD = WidgetTemplate.from_file(str(TEMPLATES / "task_card.widget"))

Change = Literal["created", "completed", "updated", "deleted"]
# How each change is shown: caption, icon, icon colour.
_CHANGES: dict[str, tuple[str, str, str]] = {
    "created": ("Added", "plus", "primary"),
    "completed": ("Completed", "check-circle-filled", "success"),
    "updated": ("Updated", "write", "primary"),
    "deleted": ("Deleted", "empty-circle", "danger"),
}
_TASK_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_TEXT_TYPES = {"Text", "Title", "Caption"}


def _task_data(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "title": task.title,
        "description": task.description,
        "status": task.status,
    }


def task_list(tasks: list[Task], heading: str) -> WidgetRoot:
    """A list of tasks: title, status, description when set, a Complete button on pending ones."""
    return TASK_LIST.build({"heading": heading, "tasks": [_task_data(task) for task in tasks]})


def task_card(task: Task, change: Change) -> WidgetRoot:
    """A compact card for one task that a tool or an action just changed."""
    caption, icon, color = _CHANGES[change]
    return TASK_CARD.build(
        {
            "task": _task_data(task),
            "change": caption,
            "icon": icon,
            "color": color,
            "deleted": change == "deleted",
        }
    )


def list_heading(tasks: list[Task], status: str, more: bool) -> str:
    pending = sum(task.status == "pending" for task in tasks)
    shown = {"all": "Your tasks", "pending": "Pending tasks", "completed": "Completed tasks"}.get(
        status, "Your tasks"
    )
    counts = f"{len(tasks)}{'+' if more else ''} shown, {pending} pending"
    return f"{shown} ({counts})"


def copy_text(widget: WidgetRoot) -> str:
    """What the user copies from the widget: one line per task, a check box for its state."""
    lines = []
    for entry in _task_entries(widget):
        mark = "☐" if entry["pending"] else "✕" if "Deleted" in entry["badges"] else "☑"
        lines.append(f"{mark} {' — '.join(entry['texts'])}")
    return "\n".join(lines)


def summarize(widget: WidgetRoot) -> str | None:
    """A few lines for the model about a task widget (ids included, so it can act on them);
    None for a widget that shows no task."""
    entries = _task_entries(widget)
    if not entries:
        return None
    kind = "task list" if widget.type == "ListView" else "task card"
    lines = [f"The user was shown a {kind}:"]
    for entry in entries:
        state = (
            "pending, with a Complete button"
            if entry["pending"]
            else ", ".join(entry["badges"]) or "completed"
        )
        lines.append(f"- {' — '.join(entry['texts'])} [{state}] (task_id {entry['task_id']})")
    return "\n".join(lines)


def with_task(widget: WidgetRoot, task: Task) -> WidgetRoot | None:
    """``widget`` with ``task`` re-rendered in its new state, or None when the widget does not
    show that task (the caller then shows a card instead)."""
    tree = _as_dict(widget)
    if tree.get("type") == "Card" and tree.get("key") == task.task_id:
        return task_card(task, "completed" if task.status == "completed" else "updated")
    if tree.get("type") != "ListView":
        return None
    row = _as_dict(task_list([task], tree.get("status", {}).get("text", "")))["children"][0]
    children = tree.get("children") or []
    positions = [index for index, child in enumerate(children) if child.get("key") == task.task_id]
    if not positions:
        return None
    for index in positions:
        children[index] = row
    tree["status"] = {
        **tree.get("status", {}),
        "text": _recount(tree.get("status", {}).get("text", ""), children),
    }
    return DynamicWidgetRoot.model_validate(tree)


def _recount(heading: str, rows: list[dict[str, Any]]) -> str:
    pending = sum(_has_complete_button(row) for row in rows)
    return re.sub(r"\d+ pending", f"{pending} pending", heading) if heading else heading


def _as_dict(widget: WidgetRoot) -> dict[str, Any]:
    return widget.model_dump(mode="json", exclude_none=True)


def _get(node: Any, name: str) -> Any:
    """A field of a widget node: a component (its extra fields included) or its JSON form.

    Read in place rather than from ``model_dump``: ChatKit's widget serializer drops the ``None``
    values of a component's whole subtree at every level of it, so a dump costs the tree's size
    times its depth (about half a millisecond for a list of three tasks), and every turn reads
    the widgets of its history.
    """
    if isinstance(node, BaseModel):
        # Declared fields, then the extra ones of a dynamic component (no aliases in widgets).
        found = node.__dict__.get(name)
        return (
            found if found is not None or not node.__pydantic_extra__ else node.__pydantic_extra__.get(name)
        )
    return node.get(name) if isinstance(node, dict) else None


def _task_entries(widget: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                visit(child)
            return
        if not isinstance(node, (BaseModel, dict)):
            return
        key = _get(node, "key")
        if isinstance(key, str) and _TASK_ID.match(key):
            texts: list[str] = []
            badges: list[str] = []
            _collect(node, texts, badges)
            entries.append(
                {"task_id": key, "texts": texts, "badges": badges, "pending": _has_complete_button(node)}
            )
            return
        visit(_get(node, "children"))

    visit(widget)
    return entries


def _collect(node: Any, texts: list[str], badges: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _collect(child, texts, badges)
        return
    if not isinstance(node, (BaseModel, dict)):
        return
    kind, value, label = _get(node, "type"), _get(node, "value"), _get(node, "label")
    # A card's change caption ("Added", key "change") says what happened, not what the task is.
    if kind in _TEXT_TYPES and isinstance(value, str) and _get(node, "key") != "change":
        texts.append(value)
    if kind == "Badge" and isinstance(label, str):
        badges.append(label)
    _collect(_get(node, "children"), texts, badges)


def _has_complete_button(node: Any) -> bool:
    if isinstance(node, list):
        return any(_has_complete_button(child) for child in node)
    if not isinstance(node, (BaseModel, dict)):
        return False
    if _get(node, "type") == "Button" and _get(_get(node, "onClickAction"), "type") == COMPLETE_ACTION:
        return True
    return _has_complete_button(_get(node, "children"))
