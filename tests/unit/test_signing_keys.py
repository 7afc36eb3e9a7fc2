"""Token keys from the environment or from an SSM key set, with rotation through `kid`."""
import boto3
import jwt
import pytest

from chalicelib import signing_keys
from chalicelib.auth import decode_token, mint_token
from chalicelib.errors import Unauthorized
from infra.rotate_keys import rotated

PARAMETER = "/cloud-annotator/dev/jwt-keys"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture
def key_set(aws, monkeypatch):
    """A deployed stage's configuration: only the parameter's name in the environment."""
    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.setenv("JWT_SECRET_PARAMETER", PARAMETER)
    monkeypatch.setattr(signing_keys, "_cache", signing_keys._ParameterCache())
    clock = FakeClock()
    monkeypatch.setattr(signing_keys, "time", clock)
    ssm = boto3.client("ssm", region_name="us-east-1")

    def store(keys):
        ssm.put_parameter(Name=PARAMETER, Value=signing_keys.dump_key_set(keys),
                          Type="SecureString", Overwrite=True)
    return store, clock, ssm


def test_environment_key_signs_with_its_kid():
    token = mint_token("alice")
    assert jwt.get_unverified_header(token)["kid"] == signing_keys.kid(signing_keys.signing_key())
    assert decode_token(token).sub == "alice"


def test_rotation_keeps_old_tokens_until_the_old_key_is_retired(key_set):
    store, clock, _ = key_set
    old_key, new_key = signing_keys.new_key(), signing_keys.new_key()
    store([old_key])
    old_token = mint_token("alice")
    assert jwt.get_unverified_header(old_token)["kid"] == signing_keys.kid(old_key)

    store([new_key, old_key])
    new_token = mint_token("bob", secret=new_key)  # e.g. the admin token a deploy prints
    # A container that read the set a moment ago has not seen the new key; it may look again
    # only REFETCH_SECONDS after its last read, so forged kids cannot flood SSM.
    with pytest.raises(Unauthorized, match="no longer uses"):
        decode_token(new_token)
    clock.now += signing_keys.REFETCH_SECONDS + 1
    assert decode_token(new_token).sub == "bob"
    assert decode_token(old_token).sub == "alice"  # both keys verify during the rotation
    assert jwt.get_unverified_header(mint_token("carol"))["kid"] == signing_keys.kid(new_key)

    store([new_key])  # retire
    assert decode_token(old_token).sub == "alice"  # until this container's cache expires
    clock.now += signing_keys.CACHE_SECONDS + 1
    with pytest.raises(Unauthorized) as refused:
        decode_token(old_token)
    assert refused.value.code == "invalid_token"
    assert decode_token(new_token).sub == "bob"


def test_unknown_kid_within_the_refetch_interval_does_not_read_ssm(key_set):
    store, clock, ssm = key_set
    key = signing_keys.new_key()
    store([key])
    mint_token("alice")  # reads the set
    ssm.delete_parameter(Name=PARAMETER)  # any further read would now fail loudly
    forged = jwt.encode({"sub": "mallory", "exp": 2**40}, "x" * 48, headers={"kid": "f" * 16})
    for _ in range(3):
        with pytest.raises(Unauthorized):
            decode_token(forged)


def test_token_without_kid_is_checked_against_the_newest_key(key_set):
    store, _, _ = key_set
    newest, older = signing_keys.new_key(), signing_keys.new_key()
    store([newest, older])
    assert decode_token(jwt.encode({"sub": "a", "exp": 2**40}, newest)).sub == "a"
    with pytest.raises(Unauthorized):
        decode_token(jwt.encode({"sub": "a", "exp": 2**40}, older))


def test_rotation_and_retirement_of_a_key_list():
    first = signing_keys.new_key()
    after = rotated([first], retire=False)
    assert after[1:] == [first] and after[0] != first and len(after[0]) >= 48
    assert rotated(after, retire=True) == after[:1]


@pytest.mark.parametrize("text", ['{"keys": []}', '{"keys": ["short"]}', '{"keys": [3]}', '{}'])
def test_malformed_key_sets_are_refused(text):
    with pytest.raises((ValueError, KeyError)):
        signing_keys.parse_key_set(text)


def test_no_key_configured_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.delenv("JWT_SECRET_PARAMETER", raising=False)
    with pytest.raises(RuntimeError, match="JWT_SECRET or JWT_SECRET_PARAMETER"):
        signing_keys.signing_key()
