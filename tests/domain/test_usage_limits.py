"""Per-user usage limits (chatkit_backend.users.usage) against the template's UsageTable in moto."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from chatkit_backend.aws import clients as aws_clients
from chatkit_backend.errors import RateLimited
from chatkit_backend.users.usage import UsageLimits, UsageSettings, Window

# 2026-11-28 10:15:20 UTC: 40 s left in the minute, 13 h 44 min 40 s left in the day.
NOON_ISH = datetime(2026, 11, 28, 10, 15, 20, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limits(aws: Any, clock: Clock, per_minute: int = 3, budget: int = 100, mcp: int = 5) -> UsageLimits:
    aws_clients.client.cache_clear()
    settings = UsageSettings(aws.physical_id("UsageTable"), per_minute, budget, mcp)
    return UsageLimits(settings, clock)


def day_item(aws: Any, user_id: str, day: str = "2026-11-28") -> dict[str, Any]:
    return (
        aws.client("dynamodb")
        .get_item(
            TableName=aws.physical_id("UsageTable"),
            Key={"user_id": {"S": user_id}, "sk": {"S": f"day#{day}"}},
        )
        .get("Item", {})
    )


def test_the_fourth_turn_in_a_minute_is_refused_until_the_next_minute(aws: Any) -> None:
    clock = Clock(NOON_ISH)
    usage = limits(aws, clock)
    for _ in range(3):
        usage.begin_turn("alice")
    with pytest.raises(RateLimited) as refused:
        usage.begin_turn("alice")
    assert refused.value.retry_after == 40
    assert "at most 3 a minute" in refused.value.detail
    # The refusal counted nothing; another user is not affected.
    assert day_item(aws, "alice")["turns"] == {"N": "3"}
    usage.begin_turn("bob")
    clock.now += 40
    usage.begin_turn("alice")
    item = day_item(aws, "alice")
    assert item["turns"] == {"N": "4"}
    # The previous minute's counter goes with the first turn of the next one.
    assert "t615" not in item and item["t616"] == {"N": "1"}


def test_the_daily_token_budget_refuses_turns_until_midnight_utc(aws: Any) -> None:
    clock = Clock(NOON_ISH)
    usage = limits(aws, clock, per_minute=100, budget=100)
    usage.begin_turn("alice")
    usage.record_tokens("alice", 70, 20)
    usage.begin_turn("alice")  # 90 < 100: still under
    usage.record_tokens("alice", 8, 4)
    with pytest.raises(RateLimited) as refused:
        usage.begin_turn("alice")
    assert refused.value.retry_after == 13 * 3600 + 44 * 60 + 40
    assert "100 tokens" in refused.value.detail and "midnight UTC" in refused.value.detail
    item = day_item(aws, "alice")
    assert (item["tokens"], item["tokens_in"], item["tokens_out"]) == ({"N": "102"}, {"N": "78"}, {"N": "24"})
    usage.begin_turn("bob")
    clock.now += refused.value.retry_after
    usage.begin_turn("alice")  # a new day, a new budget


def test_counters_expire_a_day_after_their_day(aws: Any) -> None:
    usage = limits(aws, Clock(NOON_ISH))
    usage.begin_turn("alice")
    expires = int(day_item(aws, "alice")["expires_at"]["N"])
    assert expires == int(datetime(2026, 11, 30, tzinfo=UTC).timestamp())
    description = aws.client("dynamodb").describe_time_to_live(TableName=aws.physical_id("UsageTable"))
    assert description["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_mcp_tool_calls_have_their_own_per_minute_limit(aws: Any) -> None:
    usage = limits(aws, Clock(NOON_ISH), per_minute=1, mcp=5)
    usage.begin_turn("alice")
    usage.begin_tool_call("alice", 3)
    with pytest.raises(RateLimited):
        usage.begin_tool_call("alice", 3)  # 3 + 3 > 5: the batch is refused whole
    usage.begin_tool_call("alice", 2)
    with pytest.raises(RateLimited) as refused:
        usage.begin_tool_call("alice")
    assert refused.value.retry_after == 40
    assert day_item(aws, "alice")["calls"] == {"N": "5"}


@pytest.mark.parametrize(
    ("moment", "minute", "left_in_minute", "left_in_day"),
    [
        (datetime(2026, 11, 28, 0, 0, 0, tzinfo=UTC), 0, 60, 86_400),
        (datetime(2026, 11, 28, 23, 59, 59, 500_000, tzinfo=UTC), 1439, 1, 1),
        (datetime(2026, 11, 28, 12, 30, 0, 1, tzinfo=UTC), 750, 60, 41_400),
    ],
)
def test_windows_at_their_edges(moment: datetime, minute: int, left_in_minute: int, left_in_day: int) -> None:
    window = Window.at(moment.timestamp())
    assert (window.minute, window.seconds_left_in_minute, window.seconds_left_in_day) == (
        minute,
        left_in_minute,
        left_in_day,
    )


def test_a_turn_given_back_frees_its_place_in_the_minute(aws: Any) -> None:
    clock = Clock(NOON_ISH)
    usage = limits(aws, clock)
    usage.begin_turn("alice")
    usage.begin_turn("alice")
    window = usage.begin_turn("alice")
    assert window == Window.at(NOON_ISH)
    usage.give_back_turn("alice", window)
    item = day_item(aws, "alice")
    assert (item["turns"], item["t615"]) == ({"N": "2"}, {"N": "2"})
    usage.begin_turn("alice")  # the third place is free again
    with pytest.raises(RateLimited):
        usage.begin_turn("alice")
    # Given back in the minute it was counted in, even once the clock has moved on.
    clock.now += 40
    later = usage.begin_turn("alice")
    usage.give_back_turn("alice", window)
    item = day_item(aws, "alice")
    assert later.minute == 616 and item["t616"] == {"N": "1"} and item["turns"] == {"N": "3"}


def test_a_day_whose_only_turn_was_given_back_leaves_no_record(aws: Any) -> None:
    usage = limits(aws, Clock(NOON_ISH))
    usage.give_back_turn("carol", usage.begin_turn("carol"))
    assert day_item(aws, "carol") == {}
    # A day with something else counted keeps its item: a tool call, or tokens.
    usage.begin_tool_call("dave")
    usage.give_back_turn("dave", usage.begin_turn("dave"))
    assert day_item(aws, "dave")["calls"] == {"N": "1"}
    assert day_item(aws, "dave")["turns"] == {"N": "0"}
    usage.begin_turn("erin")
    usage.record_tokens("erin", 10, 5)
    window = usage.begin_turn("erin")
    usage.give_back_turn("erin", window)
    assert day_item(aws, "erin")["turns"] == {"N": "1"}
