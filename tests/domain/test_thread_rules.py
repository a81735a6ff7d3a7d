"""The rules a thread request must meet, checked before DynamoDB is touched: ChatKitTable's ids,
titles and pages (the ChatKit server's, which GET|DELETE /api/chatkit/threads share)."""

from __future__ import annotations

import pytest
from chatkit_backend.chat.records import accepts_id, check_page
from chatkit_backend.chat.threads import validate_title
from chatkit_backend.errors import InvalidInput
from chatkit_backend.limits import PAGE_LIMIT_MAX as MAX_PAGE_SIZE

GOOD_THREAD_IDS = [
    "cthr_68e5b0c8a6b88190b0d7b5d6b1f1e3a2",
    "thr_1a2b3c4d",
    "a",
    "x" * 128,
    "thread-1_A",
    "_x",
]
BAD_THREAD_IDS = [
    "",
    "x" * 129,
    "has space",
    "slash/inside",
    "dot.inside",
    "percent%2F",
    "unicode_é",
    "newline\n",
    None,
    42,
]


@pytest.mark.parametrize("thread_id", GOOD_THREAD_IDS)
def test_chatkit_thread_ids_are_accepted(thread_id: str) -> None:
    assert accepts_id(thread_id)


@pytest.mark.parametrize("thread_id", BAD_THREAD_IDS)
def test_other_thread_ids_are_not_ids_of_the_table(thread_id: object) -> None:
    assert not accepts_id(thread_id)


@pytest.mark.parametrize("title", ["", "   ", "x" * 201, 7, ["list"]])
def test_bad_titles_are_refused(title: object) -> None:
    with pytest.raises(InvalidInput, match="title must be 1 to 200 characters"):
        validate_title(title)


def test_titles_are_trimmed_and_none_keeps_the_stored_one() -> None:
    assert validate_title("  Groceries ") == "Groceries"
    assert validate_title("x" * 200) == "x" * 200
    assert validate_title(None) is None


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, True, 2.5, "10", None])
def test_bad_page_sizes_are_refused(limit: object) -> None:
    with pytest.raises(InvalidInput, match="limit must be"):
        check_page(limit, "desc")  # type: ignore[arg-type]


@pytest.mark.parametrize("order", ["", "ASC", "newest", None])
def test_a_page_is_in_one_of_two_orders(order: object) -> None:
    with pytest.raises(InvalidInput, match="order must be"):
        check_page(10, order)  # type: ignore[arg-type]


def test_page_size_bounds() -> None:
    for limit in (1, MAX_PAGE_SIZE):
        check_page(limit, "asc")
        check_page(limit, "desc")
