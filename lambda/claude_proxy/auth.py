"""Who is calling: the caller identity the HTTPS endpoint authenticates (per-caller API keys).

The contract between the web app and the key store: the app passes the request headers to an
`Authenticator`, which returns the `Caller` or raises `ProxyError(ErrorType.AUTHENTICATION_FAILED)`
before anything is reserved or sent. Keys themselves never leave this boundary: a `Caller` carries
the key's name and id (a hash prefix), never the key.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NoReturn, Protocol

from claude_platform.api_keys import ApiKeyRecord, ApiKeyStore, KeyLimits, key_hash, key_id, looks_like_key
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.settings import Settings, SettingsError


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the key's name (its identity in spend records), its id and its limits."""

    key_name: str
    key_id: str
    limits: KeyLimits = field(default_factory=KeyLimits)


class Authenticator(Protocol):
    """Resolves request headers (lower-case names) to a Caller."""

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller; raises ProxyError(AUTHENTICATION_FAILED) for a missing, unknown or revoked key."""
        ...


# --- API keys (claude_platform.api_keys) ------------------------------------------------------

# A lookup is trusted this long, so a revoked key stops working within CACHE_TTL_S plus one read
# (the bound is 60 s); unknown keys are cached too, so a caller retrying a bad key does not
# cost a DynamoDB read per request.
CACHE_TTL_S = 30.0
CACHE_MAX_ENTRIES = 4096
AUTH_FAILURE_METRIC = "AuthFailures"
BEARER = "bearer"


class KeyLookup(Protocol):
    """Reads one key of a project by its hash (ApiKeyStore.lookup: one GetItem in its partition)."""

    def lookup(self, project: str, digest: str) -> ApiKeyRecord | None:
        """The stored key, or None."""
        ...


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key the caller sent: `Authorization: Bearer <key>` (Claude Code's ANTHROPIC_AUTH_TOKEN,
    the OpenAI SDK) or `x-api-key` (the Anthropic SDK, ANTHROPIC_API_KEY); None when neither is sent.

    When both are sent, the first that has a key's shape wins (a caller may carry an unrelated
    Authorization header); otherwise the first given.
    """
    candidates = []
    authorization = (headers.get("authorization") or "").strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        value = token.strip() if scheme.lower() == BEARER else authorization
        if value:
            candidates.append(value)
    x_api_key = (headers.get("x-api-key") or "").strip()
    if x_api_key:
        candidates.append(x_api_key)
    for candidate in candidates:
        if looks_like_key(candidate):
            return candidate
    return candidates[0] if candidates else None


def emit_auth_failure(project: str, reason: str, *, namespace: str) -> None:
    """EMF `AuthFailures` = 1 with dimension sets [project] (the alarm's) and [project, reason]."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace=namespace, service="")
    metrics.add_dimension(name="project", value=project)
    metrics.add_dimension(name="reason", value=reason)
    metrics.add_dimensions(project=project)
    metrics.add_metric(name=AUTH_FAILURE_METRIC, unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()


class KeyAuthenticator:
    """`Authenticator` over the project's API keys in the ledger table.

    Only the key's SHA-256 is looked up (GetItem on `key#<hash>` in the project's own partition);
    the key itself is never logged, traced, cached or put in an error message. The store's answer is
    compared with `hmac.compare_digest`; the cache is keyed by the hash, so its lookups' timing says
    nothing about any key. A failure raises ProxyError(AUTHENTICATION_FAILED) and calls
    `on_refused(reason)` (the metric and a log line); the key store being unreachable is not the
    caller's fault: a retryable internal_error, never a pass.
    """

    def __init__(
        self,
        *,
        project: str,
        keys: KeyLookup,
        on_refused: Callable[[str, str | None], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        ttl_s: float = CACHE_TTL_S,
        max_entries: int = CACHE_MAX_ENTRIES,
    ) -> None:
        self._project = project
        self._keys = keys
        self._on_refused = on_refused
        self._monotonic = monotonic
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._cache: OrderedDict[str, tuple[float, ApiKeyRecord | None]] = OrderedDict()

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller; ProxyError(AUTHENTICATION_FAILED) for a missing, unknown or revoked key."""
        key = presented_key(headers)
        if key is None:
            self._refuse(
                "missing", None, "no API key: send it as `Authorization: Bearer <key>` or `x-api-key`"
            )
        if not looks_like_key(key):
            self._refuse(
                "malformed", None, "the API key is not valid (keys come from `claude-finops keys create`)"
            )
        digest = key_hash(key)
        del key  # only the hash from here on
        record = self._record(digest)
        if (
            record is None
            or record.project != self._project
            or not hmac.compare_digest(record.digest, digest)
        ):
            self._refuse("unknown", key_id(digest), "the API key is not valid for this project")
        if not record.active:
            self._refuse("revoked", key_id(digest), "the API key has been revoked")
        return Caller(key_name=record.name, key_id=record.key_id, limits=record.limits)

    def _record(self, digest: str) -> ApiKeyRecord | None:
        now = self._monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            record = self._keys.lookup(self._project, digest)
        except Exception as exc:  # botocore errors, timeouts: fail closed, retryable
            raise ProxyError(
                ErrorType.INTERNAL_ERROR,
                f"the API key store could not be read ({type(exc).__name__}); retry shortly",
                retryable=True,
            ) from None
        self._cache[digest] = (now + self._ttl_s, record)
        self._cache.move_to_end(digest)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return record

    def _refuse(self, reason: str, refused_key_id: str | None, message: str) -> NoReturn:
        if self._on_refused is not None:
            self._on_refused(reason, refused_key_id)
        raise ProxyError(ErrorType.AUTHENTICATION_FAILED, message, retryable=False)


# Fail fast like the ledger: a key lookup that cannot answer in about 3 s refuses the call (retryable).
KEYS_CONNECT_TIMEOUT_S = 1.0
KEYS_READ_TIMEOUT_S = 2.0
KEYS_MAX_ATTEMPTS = 2


@lru_cache(maxsize=4)
def authenticator_for(settings: Settings) -> KeyAuthenticator:
    """The function's authenticator (one per container: its cache and client are reused).

    DynamoDB client with short timeouts; the endpoint from boto3's own resolution
    (AWS_ENDPOINT_URL_DYNAMODB), as for the ledger. After a SnapStart restore, `cache_clear()` it.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=KEYS_CONNECT_TIMEOUT_S,
        read_timeout=KEYS_READ_TIMEOUT_S,
        retries={"max_attempts": KEYS_MAX_ATTEMPTS, "mode": "standard"},
        tcp_keepalive=True,
    )
    client = boto3.session.Session().client("dynamodb", region_name=settings.region, config=config)
    return key_authenticator(settings, client)


def key_authenticator(settings: Settings, dynamodb_client: Any) -> KeyAuthenticator:
    """The function's authenticator: its project's keys in `gateway.keys_table`, failures counted
    (EMF, the function's namespace) and logged without key material."""
    gateway = settings.project.gateway
    if gateway is None or not gateway.keys_table:
        raise SettingsError("PROJECT_SETTINGS has no gateway.keys_table: the gateway needs the keys table")
    project = settings.project.project
    namespace = settings.metrics_namespace

    def on_refused(reason: str, refused_key_id: str | None) -> None:
        from claude_proxy.observability import logger

        fields = {"project": project, "reason": reason}
        if refused_key_id:
            fields["key_id"] = refused_key_id
        logger.warning("api key refused", extra=fields)
        emit_auth_failure(project, reason, namespace=namespace)

    return KeyAuthenticator(
        project=project, keys=ApiKeyStore(dynamodb_client, gateway.keys_table), on_refused=on_refused
    )
