"""API-key authentication of the HTTPS endpoint: headers, the project's partition only, revocation
within a minute, failures counted and never a key in logs, metrics or messages (moto DynamoDB)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from claude_proxy.auth import CACHE_TTL_S, KeyAuthenticator, key_authenticator, presented_key
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.settings import Settings, SettingsError
from moto import mock_aws
from proxy_testkit import FakeClock, project_settings, stdout_json_lines

from claude_platform.api_keys import ApiKeyStore, generate_key, key_hash
from claude_platform.function_settings import FunctionSettings

TABLE = "claude-spend-ledger"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def dynamodb(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


class CountingStore:
    """ApiKeyStore that counts lookups and may fail."""

    def __init__(self, store: ApiKeyStore) -> None:
        self.store = store
        self.lookups: list[tuple[str, str]] = []
        self.fail: Exception | None = None

    def lookup(self, project: str, digest: str) -> Any:
        self.lookups.append((project, digest))
        if self.fail is not None:
            raise self.fail
        return self.store.lookup(project, digest)


def _authenticator(
    dynamodb: Any, clock: FakeClock, refused: list | None = None
) -> tuple[KeyAuthenticator, CountingStore]:
    counting = CountingStore(ApiKeyStore(dynamodb, TABLE))
    on_refused = (lambda reason, kid: refused.append((reason, kid))) if refused is not None else None
    return KeyAuthenticator(
        project="alpha", keys=counting, on_refused=on_refused, monotonic=clock.monotonic
    ), counting


def _refused(auth: KeyAuthenticator, headers: dict[str, str]) -> ProxyError:
    with pytest.raises(ProxyError) as info:
        auth.authenticate(headers)
    assert info.value.error_type is ErrorType.AUTHENTICATION_FAILED
    assert info.value.retryable is False
    return info.value


def test_bearer_and_x_api_key_are_accepted(dynamodb: Any):
    key, record = ApiKeyStore(dynamodb, TABLE).create("alpha", "alice", now=NOW)
    auth, _ = _authenticator(dynamodb, FakeClock())
    for headers in (
        {"authorization": f"Bearer {key}"},
        {"authorization": f"bearer  {key} "},
        {"x-api-key": key},
    ):
        caller = auth.authenticate(headers)
        assert caller.key_name == "alice"
        assert caller.key_id == record.key_id == key_hash(key)[:12]
    # An unrelated Authorization header next to x-api-key does not hide the key.
    assert auth.authenticate({"authorization": "Basic Zm9vOmJhcg==", "x-api-key": key}).key_name == "alice"
    assert presented_key({}) is None


def test_missing_and_malformed_keys_are_refused_without_a_lookup(dynamodb: Any):
    refused: list = []
    auth, counting = _authenticator(dynamodb, FakeClock(), refused)
    assert "no API key" in _refused(auth, {}).message
    _refused(auth, {"authorization": "Bearer "})
    _refused(auth, {"x-api-key": "sk-ant-api03-something"})
    _refused(auth, {"authorization": "Bearer cpk_short"})
    assert counting.lookups == []
    assert [r for r, _ in refused] == ["missing", "missing", "malformed", "malformed"]
    assert all(kid is None for _, kid in refused)


def test_unknown_key_and_another_projects_key_are_refused(dynamodb: Any):
    store = ApiKeyStore(dynamodb, TABLE)
    other, _ = store.create("beta", "bob", now=NOW)
    refused: list = []
    auth, counting = _authenticator(dynamodb, FakeClock(), refused)
    _refused(auth, {"x-api-key": generate_key()})
    _refused(auth, {"x-api-key": other})
    # Every lookup was in the function's own partition.
    assert {project for project, _ in counting.lookups} == {"alpha"}
    assert [r for r, _ in refused] == ["unknown", "unknown"]
    assert refused[1][1] == key_hash(other)[:12]


def test_revoked_key_stops_working_within_a_minute(dynamodb: Any):
    store = ApiKeyStore(dynamodb, TABLE)
    key, _ = store.create("alpha", "alice", now=NOW)
    clock = FakeClock()
    refused: list = []
    auth, counting = _authenticator(dynamodb, clock, refused)
    assert auth.authenticate({"x-api-key": key}).key_name == "alice"
    store.revoke("alpha", "alice", now=NOW)
    revoked_at = clock.monotonic()
    while True:
        try:
            auth.authenticate({"x-api-key": key})
        except ProxyError as exc:
            assert exc.error_type is ErrorType.AUTHENTICATION_FAILED and "revoked" in exc.message
            break
        clock.sleep(1.0)
        assert clock.monotonic() - revoked_at < 60, "a revoked key still worked after 60 s"
    assert clock.monotonic() - revoked_at <= CACHE_TTL_S + 1
    assert refused[-1][0] == "revoked"
    assert len(counting.lookups) == 2  # one read per TTL, not one per request


def test_lookups_are_cached_per_ttl_including_unknown_keys(dynamodb: Any):
    key, _ = ApiKeyStore(dynamodb, TABLE).create("alpha", "alice", now=NOW)
    clock = FakeClock()
    auth, counting = _authenticator(dynamodb, clock)
    unknown = generate_key()
    for _ in range(5):
        auth.authenticate({"x-api-key": key})
        _refused(auth, {"x-api-key": unknown})
    assert len(counting.lookups) == 2
    clock.sleep(CACHE_TTL_S + 0.1)
    auth.authenticate({"x-api-key": key})
    assert len(counting.lookups) == 3


def test_cache_is_bounded(dynamodb: Any):
    counting = CountingStore(ApiKeyStore(dynamodb, TABLE))
    auth = KeyAuthenticator(project="alpha", keys=counting, max_entries=8, monotonic=FakeClock().monotonic)
    keys = [generate_key() for _ in range(20)]
    for key in keys:
        _refused(auth, {"x-api-key": key})
    _refused(auth, {"x-api-key": keys[0]})  # evicted: read again
    assert len(counting.lookups) == 21
    assert len(auth._cache) == 8


def test_store_failure_fails_closed_retryable_and_is_not_cached(dynamodb: Any):
    key, _ = ApiKeyStore(dynamodb, TABLE).create("alpha", "alice", now=NOW)
    auth, counting = _authenticator(dynamodb, FakeClock())
    counting.fail = TimeoutError("read timed out")
    with pytest.raises(ProxyError) as info:
        auth.authenticate({"x-api-key": key})
    assert info.value.error_type is ErrorType.INTERNAL_ERROR and info.value.retryable
    assert key not in info.value.message
    counting.fail = None
    assert auth.authenticate({"x-api-key": key}).key_name == "alice"


def _settings(**gateway: Any) -> Settings:
    doc = project_settings(gateway=gateway) if gateway else project_settings()
    return Settings(project=FunctionSettings.model_validate(doc), region="us-east-1")


def test_key_never_appears_in_logs_metrics_or_messages(dynamodb: Any, capsys: pytest.CaptureFixture[str]):
    store = ApiKeyStore(dynamodb, TABLE)
    good, _ = store.create("alpha", "alice", now=NOW)
    revoked, _ = store.create("alpha", "old", now=NOW)
    store.revoke("alpha", "old", now=NOW)
    auth = key_authenticator(_settings(keys_table=TABLE), dynamodb)
    messages = [auth.authenticate({"authorization": f"Bearer {good}"}).key_name]
    for headers in ({}, {"x-api-key": "cpk_bad"}, {"x-api-key": generate_key()}, {"x-api-key": revoked}):
        with pytest.raises(ProxyError) as info:
            auth.authenticate(headers)
        messages.append(info.value.message)
    out = capsys.readouterr().out
    lines = stdout_json_lines(out)
    logs = [line for line in lines if line.get("message") == "api key refused"]
    assert [line["reason"] for line in logs] == ["missing", "malformed", "unknown", "revoked"]
    assert logs[-1]["key_id"] == key_hash(revoked)[:12] and logs[-1]["project"] == "alpha"
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 4
    for blob in emf:
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ClaudePlatform"
        assert ["project"] in directive["Dimensions"]
        assert blob["AuthFailures"] in (1, [1], [1.0]) and blob["project"] == "alpha"
    assert [blob["reason"] for blob in emf] == ["missing", "malformed", "unknown", "revoked"]
    everything = out + "\n".join(messages)
    for key in (good, revoked):
        assert key not in everything
        assert key.removeprefix("cpk_") not in everything
        assert key_hash(key) not in everything  # only the 12-digit id, never the full hash


def test_authenticator_needs_the_keys_table():
    with pytest.raises(SettingsError, match="keys_table"):
        key_authenticator(_settings(), None)
    with pytest.raises(SettingsError, match="keys_table"):
        key_authenticator(_settings(model_aliases={}), None)
