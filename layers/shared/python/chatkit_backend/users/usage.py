"""Per-user usage limits: chat turns per minute, tokens per day, MCP tool calls per minute.

UsageTable, one partition per user (``user_id``), one item per UTC day (``sk = day#<date>``):
- ``turns`` and ``calls``: the day's chat turns and MCP tool calls;
- ``t<minute>`` / ``c<minute>``: turns / tool calls in that minute of the day (0-1439);
- ``tokens``, ``tokens_in``, ``tokens_out``: the Responses API usage of the day's turns;
- ``expires_at``: the day's end plus a day, for DynamoDB's TTL (the counters are worthless after).

A turn costs one conditional ``UpdateItem``: it adds one to the minute's counter only if that
counter is under the per-minute limit and the day's tokens are under the budget, so there is
no read-then-write race: of N concurrent turns at the limit, DynamoDB lets exactly the allowed
number through. A refused update changes nothing; the old item that comes back with the refusal
says which limit it was, and so how long to wait. The same update removes the previous minute's
counter, so a steady user's item stays small (every UpdateItem is billed by the item's size).

The tokens are added when the turn ends (an unconditional ``ADD``): a turn that starts under
the budget may finish over it; the next one is refused.

This module loads botocore (through ``chatkit_backend.aws.clients``) on its first count, not at import:
McpFunction builds its limits at init, and requests that count nothing (discovery, tools/list)
never need the AWS SDK for them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chatkit_backend.errors import NotConfigured, RateLimited
from chatkit_backend.observability.logs import logger
from chatkit_backend.observability.metrics import count
from chatkit_backend.settings import EnvSettings, env

DEFAULT_MESSAGES_PER_MINUTE = 20
DEFAULT_DAILY_TOKEN_BUDGET = 200_000
DEFAULT_MCP_CALLS_PER_MINUTE = 120
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class UsageSettings(EnvSettings):
    table: str = env("USAGE_TABLE")
    messages_per_minute: int = env("CHATKIT_MESSAGES_PER_MINUTE", DEFAULT_MESSAGES_PER_MINUTE)
    daily_token_budget: int = env("CHATKIT_DAILY_TOKEN_BUDGET", DEFAULT_DAILY_TOKEN_BUDGET)
    mcp_calls_per_minute: int = env("MCP_CALLS_PER_MINUTE", DEFAULT_MCP_CALLS_PER_MINUTE)


@dataclass(frozen=True)
class Window:
    """Where ``now`` falls: the day's key, the minute of the day and what is left of both."""

    day: str
    minute: int
    seconds_left_in_minute: int
    seconds_left_in_day: int
    expires_at: int

    @classmethod
    def at(cls, now: float) -> Window:
        moment = datetime.fromtimestamp(now, UTC)
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        into_day = now - midnight.timestamp()
        next_midnight = midnight + timedelta(days=1)
        return cls(
            day=moment.date().isoformat(),
            minute=int(into_day // 60),
            seconds_left_in_minute=max(1, math.ceil(60 - into_day % 60)),
            seconds_left_in_day=max(1, math.ceil(next_midnight.timestamp() - now)),
            expires_at=int(next_midnight.timestamp()) + DAY_SECONDS,
        )


def day_key(day: str) -> str:
    return f"day#{day}"


class UsageLimits:
    """The limits of one function's users; every method is one DynamoDB request."""

    def __init__(self, settings: UsageSettings, clock: Any = time.time) -> None:
        self.settings = settings
        self._clock = clock

    def begin_turn(self, user_id: str) -> Window:
        """Count one chat turn for ``user_id`` and return the window it was counted in;
        ``RateLimited`` (nothing counted) when the minute's turns or the day's tokens are used up."""
        window = Window.at(self._clock())
        budget = self.settings.daily_token_budget
        old = self._count(
            user_id,
            window,
            "t",
            "turns",
            self.settings.messages_per_minute,
            extra_condition=(
                "(attribute_not_exists(tokens) OR tokens < :budget)",
                {":budget": {"N": str(budget)}},
            ),
        )
        if old is None:
            return window
        if int(old.get("tokens", {}).get("N", "0")) >= budget:
            _refused("daily_tokens", user_id)
            raise RateLimited(
                f"You have used today's {budget:,} tokens of the assistant. The budget renews at midnight UTC.",
                retry_after=window.seconds_left_in_day,
            )
        _refused("messages_per_minute", user_id)
        raise RateLimited(
            f"You are sending messages too fast: at most {self.settings.messages_per_minute} a minute. "
            f"Try again in {window.seconds_left_in_minute} seconds.",
            retry_after=window.seconds_left_in_minute,
        )

    def give_back_turn(self, user_id: str, window: Window) -> None:
        """Take back a turn ``begin_turn`` counted in ``window``, for a request refused after all
        (the limit is checked while the thread is read, and the thread may not be the user's).

        If that leaves the day with nothing counted, its item goes too, so that a user whose
        only request was refused has no usage record at all; the delete is conditional, so a
        turn, a tool call or tokens counted meanwhile keep it."""
        dynamodb, key = self._dynamodb(), _key(user_id, window)
        after = dynamodb.update_item(
            TableName=self._table(),
            Key=key,
            UpdateExpression="ADD #minute :less, turns :less",
            ExpressionAttributeNames={"#minute": f"t{window.minute}"},
            ExpressionAttributeValues={":less": {"N": "-1"}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        if after.get("turns") != {"N": "0"} or "calls" in after or "tokens" in after:
            return
        from botocore.exceptions import ClientError

        from chatkit_backend.aws.clients import is_condition_failure

        try:
            dynamodb.delete_item(
                TableName=self._table(),
                Key=key,
                ConditionExpression="turns = :zero AND attribute_not_exists(calls) AND attribute_not_exists(tokens)",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def record_tokens(self, user_id: str, tokens_in: int, tokens_out: int) -> None:
        """Add a finished turn's Responses API usage to the user's day."""
        if tokens_in <= 0 and tokens_out <= 0:
            return
        window = Window.at(self._clock())
        self._dynamodb().update_item(
            TableName=self._table(),
            Key=_key(user_id, window),
            UpdateExpression="ADD tokens :total, tokens_in :in, tokens_out :out SET expires_at = :expires",
            ExpressionAttributeValues={
                ":total": {"N": str(tokens_in + tokens_out)},
                ":in": {"N": str(tokens_in)},
                ":out": {"N": str(tokens_out)},
                ":expires": {"N": str(window.expires_at)},
            },
        )

    def begin_tool_call(self, user_id: str, calls: int = 1) -> None:
        """Count ``calls`` MCP tool calls (a JSON-RPC batch may hold several); ``RateLimited``
        (nothing counted) when they do not all fit in the minute's limit."""
        window = Window.at(self._clock())
        limit = self.settings.mcp_calls_per_minute
        if calls > limit or self._count(user_id, window, "c", "calls", limit, calls) is not None:
            _refused("mcp_calls_per_minute", user_id)
            raise RateLimited(
                f"Too many tool calls: at most {limit} a minute. Try again in {window.seconds_left_in_minute} seconds.",
                retry_after=window.seconds_left_in_minute,
            )

    def _count(
        self,
        user_id: str,
        window: Window,
        prefix: str,
        day_total: str,
        limit: int,
        amount: int = 1,
        extra_condition: tuple[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any] | None:
        """One conditional ADD of ``amount`` to the minute's counter, only if the sum stays within
        ``limit``; None when it went through, else the item as it was (DynamoDB hands it back
        with the refusal)."""
        names = {"#minute": f"{prefix}{window.minute}"}
        values: dict[str, Any] = {
            ":amount": {"N": str(amount)},
            ":most": {"N": str(limit - amount)},
            ":expires": {"N": str(window.expires_at)},
        }
        update = f"ADD #minute :amount, {day_total} :amount SET expires_at = :expires"
        if window.minute > 0:
            names["#previous"] = f"{prefix}{window.minute - 1}"
            update += " REMOVE #previous"
        condition = "(attribute_not_exists(#minute) OR #minute <= :most)"
        if extra_condition is not None:
            condition += f" AND {extra_condition[0]}"
            values.update(extra_condition[1])
        from botocore.exceptions import ClientError

        from chatkit_backend.aws.clients import is_condition_failure

        try:
            self._dynamodb().update_item(
                TableName=self._table(),
                Key=_key(user_id, window),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            return dict(error.response.get("Item") or {})
        return None

    def _table(self) -> str:
        if not self.settings.table:
            raise NotConfigured("USAGE_TABLE", "Deploy the template's UsageTable and pass its name.")
        return self.settings.table

    @staticmethod
    def _dynamodb() -> Any:
        from chatkit_backend.aws.clients import client

        # One attempt, 1 s to read: a counter that does not answer fails the turn fast (503), or
        # lets the tool call go on, well inside the function's time.
        return client("dynamodb", fail_fast=True)


def _refused(limit: str, user_id: str) -> None:
    logger.info("request refused by a per-user limit", extra={"limit": limit, "user_id": user_id})
    count("LimitRefusals", limit=limit)


def _key(user_id: str, window: Window) -> dict[str, Any]:
    return {"user_id": {"S": user_id}, "sk": {"S": day_key(window.day)}}
