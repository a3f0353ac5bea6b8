"""The verified-key cache: same answers as the full check, valid keys only, bounded."""

from __future__ import annotations

from mlgate.serve.auth import KeyStore, hash_key


def test_cached_key_gives_the_same_answer_and_wrong_keys_are_never_cached() -> None:
    keys = [f"mlg_key{i}" for i in range(3)]
    store = KeyStore([hash_key(k) for k in keys])
    for _ in range(3):  # first call verifies, the next ones come from the cache
        assert [store.check(k) for k in keys] == [hash_key(k) for k in keys]
    for wrong in ("mlg_key", "mlg_key00", "mlg_key0 ", "", None):
        assert store.check(wrong) is None
    assert set(store._verified) == set(keys)


def test_cache_is_bounded_and_keys_past_the_bound_still_verify() -> None:
    keys = [f"k{i}" for i in range(10)]
    store = KeyStore([hash_key(k) for k in keys], cache_size=4)
    assert all(store.check(k) == hash_key(k) for k in keys)
    assert len(store._verified) == 4
    assert all(store.check(k) == hash_key(k) for k in keys)  # uncached ones take the full check
