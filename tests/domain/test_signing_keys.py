"""SigningKeys: which keys of a secret verify, as its stages move under a bounded-age cache."""

from __future__ import annotations

from chatkit_backend.auth.tokens import SigningKeys
from chatkit_backend.aws.secrets import CURRENT, PREVIOUS, SecretVersion


class StaleCache:
    """A cache whose entries expire one at a time: ``stale`` stages answer old values unless forced."""

    def __init__(self, truth: dict[str, str], cached: dict[str, str]) -> None:
        self.truth, self.cached = truth, cached
        self.stale: set[str] = set()
        self.forced: list[str] = []

    def get(self, secret_id: str, stage: str = CURRENT, *, force: bool = False) -> SecretVersion | None:
        if force:
            self.forced.append(stage)
            if stage in self.truth:
                self.cached[stage] = self.truth[stage]
        value = self.cached[stage] if stage in self.stale and not force else self.truth.get(stage)
        return None if value is None else SecretVersion(version_id=value, value=f"key-{value}")


def test_when_current_moved_previous_is_reread_with_it() -> None:
    cache = StaleCache(truth={CURRENT: "v1", PREVIOUS: "v0"}, cached={})
    keys = SigningKeys("secret", cache)
    assert keys.keys() == ("key-v1", "key-v0")

    # Two rotations later, AWSCURRENT's entry has expired but AWSPREVIOUS's has not yet.
    cache.truth = {CURRENT: "v3", PREVIOUS: "v2"}
    cache.cached, cache.stale = {PREVIOUS: "v0"}, {PREVIOUS}

    assert keys.keys() == ("key-v3", "key-v2")
    assert cache.forced == [PREVIOUS]


def test_refresh_after_miss_returns_only_new_keys_and_at_most_once_a_second() -> None:
    clock = [100.0]
    cache = StaleCache(truth={CURRENT: "v1", PREVIOUS: "v0"}, cached={})
    keys = SigningKeys("secret", cache, clock=lambda: clock[0])
    keys.keys()
    cache.truth = {CURRENT: "v2", PREVIOUS: "v1"}
    cache.cached, cache.stale = {CURRENT: "v1", PREVIOUS: "v0"}, {CURRENT, PREVIOUS}

    assert keys.refresh_after_miss() == ("key-v2",)
    clock[0] += 0.5
    assert keys.refresh_after_miss() == ()
    clock[0] += 0.6
    assert keys.refresh_after_miss() == ()
    assert cache.forced.count(CURRENT) == 2


def test_a_secret_without_previous_gives_current_only() -> None:
    keys = SigningKeys("secret", StaleCache(truth={CURRENT: "v1"}, cached={}))

    assert keys.keys() == ("key-v1",)
