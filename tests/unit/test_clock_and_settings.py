"""Every timestamp comes from chalicelib.clock (tokens too), and settings are read when first
used, not when chalicelib is imported."""
import pytest

from chalicelib import config, models
from chalicelib.auth import decode_token, mint_token
from chalicelib.errors import Unauthorized


def test_tokens_expire_on_the_service_clock(time_travel):
    token = mint_token("ann", ttl_seconds=60)
    assert decode_token(token).sub == "ann"
    time_travel.advance(61)
    with pytest.raises(Unauthorized) as refused:
        decode_token(token)
    assert refused.value.code == "token_expired"
    # Minted in the clock's future, a token is valid there, and not yet valid now.
    later = mint_token("ann", ttl_seconds=60)
    assert decode_token(later).sub == "ann"
    time_travel.advance(-61)
    with pytest.raises(Unauthorized) as early:
        decode_token(later)
    assert early.value.code == "invalid_token"


def test_settings_are_read_when_used_not_at_import(monkeypatch):
    monkeypatch.setenv("TABLE_PREFIX", "later-")
    monkeypatch.setenv("IMPORT_BUCKETS", "a, b")
    config.reload()
    try:
        assert models.Task.Meta.table_name == "later-tasks"
        assert config.IMPORT_BUCKETS == ("a", "b")
    finally:
        monkeypatch.undo()
        config.reload()
    assert models.Task.Meta.table_name == "unit-tasks"
    with pytest.raises(AttributeError):
        config.NO_SUCH_SETTING  # noqa: B018
