"""The task service over the TasksTable the test gave its functions (TASKS_TABLE), as they build it."""

from __future__ import annotations

import os

from chatkit_backend.tasks.service import TaskService


def task_service() -> TaskService:
    return TaskService(os.environ["TASKS_TABLE"])
