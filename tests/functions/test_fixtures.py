"""What the in-process fixtures of tests/conftest.py promise, beyond the tests that use them."""

from __future__ import annotations

import botocore.session


def test_every_botocore_session_of_the_tests_shares_one_loader() -> None:
    """Each test's container builds its clients from a new session, and so does boto3 under each
    new ``mock_aws``: none of them parses a service model again (``share_service_models``). This
    fails when botocore stops making its loader with ``botocore.session.create_loader``."""
    first, second = botocore.session.get_session(), botocore.session.get_session()

    assert first.get_component("data_loader") is second.get_component("data_loader")
