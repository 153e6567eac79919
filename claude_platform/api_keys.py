"""Per-caller API keys of a project's HTTPS endpoint, kept in the region's ledger table.

A key is `cpk_` followed by 32 random bytes (256 bits) in URL-safe base64. Only its SHA-256 is
stored: a key is drawn from 2**256 values, so no one can guess it from the hash and a slow KDF
(bcrypt, scrypt, PBKDF2) would add nothing but latency; those exist for low-entropy passwords.

Items live in the project's own partition, so IAM's `dynamodb:LeadingKeys` keeps a function to its
project's keys, exactly as for its spend:

- `pk` = project, `sk` = `key#<sha256 hex of the key>`: name, project, created_at, revoked_at
  (absent while the key is active) and the key's optional limits (`monthly_cap_micro`,
  `requests_per_minute`, `tokens_per_minute`). The function reads only this item (GetItem).
- `pk` = project, `sk` = `keyname#<name>`: the name's claim, pointing at the active key's hash, so
  two active keys of a project never share a name (written in the same transaction as the key).
  Revoking a key frees its name: a replacement key may take it (the same caller, the same spend
  identity).

Standard library and boto3 only: the Lambda bundle ships this module, and the CLI uses it too.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

KEY_PREFIX = "cpk_"
KEY_BYTES = 32  # 256 bits of randomness
KEY_SK_PREFIX = "key#"
NAME_SK_PREFIX = "keyname#"
KEY_ID_CHARS = 12  # a Caller's key_id: this many hex digits of the hash (never the key)
_KEY_BODY_LEN = len(base64.urlsafe_b64encode(b"\0" * KEY_BYTES).rstrip(b"="))
KEY_RE = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9_-]{{{_KEY_BODY_LEN}}}$")
KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
KEY_NAME_RULE = "1-64 letters, digits and _.@+-, starting with a letter or digit"


class KeysClient(Protocol):
    """The low-level boto3 DynamoDB client calls the key store uses."""

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        """GetItem."""
        ...

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        """UpdateItem."""
        ...

    def query(self, **kwargs: Any) -> dict[str, Any]:
        """Query."""
        ...

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        """TransactWriteItems."""
        ...


class ApiKeyError(ValueError):
    """A key operation that cannot be done (name taken, no such key, bad name)."""


def generate_key() -> str:
    """A new random key: `cpk_` + 256 bits, URL-safe base64 without padding."""
    return KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=").decode()


def looks_like_key(value: str) -> bool:
    """Whether `value` has the shape of a key (checked before any lookup)."""
    return bool(KEY_RE.match(value))


def key_hash(key: str) -> str:
    """SHA-256 of the key, hex: what the table stores."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(digest: str) -> str:
    """The short, loggable id of a key: a prefix of its hash."""
    return digest[:KEY_ID_CHARS]


def check_name(name: str) -> str:
    """The name, or ApiKeyError saying what a name may be."""
    if not KEY_NAME_RE.match(name):
        raise ApiKeyError(f"key name {name!r}: {KEY_NAME_RULE}")
    return name


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


LIMIT_ATTRIBUTES = ("monthly_cap_micro", "requests_per_minute", "tokens_per_minute")
THRESHOLDS_ATTRIBUTE = "alert_thresholds"


@dataclass(frozen=True)
class KeyLimits:
    """A key's own limits (None: only the project's apply): month cap in micro-USD, per-minute rates."""

    monthly_cap_micro: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    alert_thresholds: tuple[float, ...] = ()  # percent of the key's cap, each alerted once a month

    def __post_init__(self) -> None:
        for name in LIMIT_ATTRIBUTES:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ApiKeyError(f"{name}: must be a positive whole number, got {value!r}")
        for threshold in self.alert_thresholds:
            if not 0 < threshold <= 100:
                raise ApiKeyError(
                    f"alert_thresholds: {threshold:g} is outside (0, 100] percent of the key's cap"
                )
        if self.alert_thresholds and self.monthly_cap_micro is None:
            raise ApiKeyError(
                "alert_thresholds are percent of the key's monthly cap: set monthly_cap_usd too"
            )

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> KeyLimits:
        """From a `key#` item's attributes."""
        thresholds = tuple(sorted(float(v) for v in item.get(THRESHOLDS_ATTRIBUTE, {}).get("NS", [])))
        return cls(
            **{name: int(item[name]["N"]) for name in LIMIT_ATTRIBUTES if name in item},
            alert_thresholds=thresholds,
        )

    def attributes(self) -> dict[str, dict[str, Any]]:
        """The item attributes of the limits that are set."""
        out: dict[str, dict[str, Any]] = {
            name: {"N": str(getattr(self, name))} for name in LIMIT_ATTRIBUTES if getattr(self, name)
        }
        if self.alert_thresholds:
            out[THRESHOLDS_ATTRIBUTE] = {"NS": [f"{t:g}" for t in self.alert_thresholds]}
        return out


@dataclass(frozen=True)
class ApiKeyRecord:
    """One stored key: never the key itself, only its hash and metadata."""

    project: str
    name: str
    digest: str
    created_at: str
    revoked_at: str | None = None
    limits: KeyLimits = KeyLimits()

    @property
    def key_id(self) -> str:
        """Loggable id (hash prefix)."""
        return key_id(self.digest)

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ApiKeyRecord:
        """From a DynamoDB `key#` item (low-level attribute values)."""
        revoked = item.get("revoked_at", {}).get("S")
        return cls(
            project=item["pk"]["S"],
            name=item["key_name"]["S"],
            digest=item["sk"]["S"].removeprefix(KEY_SK_PREFIX),
            created_at=item["created_at"]["S"],
            revoked_at=revoked,
            limits=KeyLimits.from_item(item),
        )


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _reasons(exc: BaseException) -> list[str]:
    """The cancellation reason codes of a TransactionCanceledException, one per item."""
    response = getattr(exc, "response", None)
    reasons = response.get("CancellationReasons", []) if isinstance(response, dict) else []
    return [str(r.get("Code", "")) for r in reasons]


class ApiKeyStore:
    """Create, list, revoke and look up a project's keys in the ledger table."""

    def __init__(self, client: KeysClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @property
    def table(self) -> str:
        """The table's name."""
        return self._table

    def create(
        self, project: str, name: str, *, now: datetime, limits: KeyLimits = KeyLimits()
    ) -> tuple[str, ApiKeyRecord]:
        """A new key for `project` named `name` (the key, returned once, and its record).

        ApiKeyError if an active key of the project already has the name.
        """
        check_name(name)
        key = generate_key()
        digest = key_hash(key)
        created = _iso(now)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": project},
                                "sk": {"S": NAME_SK_PREFIX + name},
                                "key_hash": {"S": digest},
                            },
                            "ConditionExpression": "attribute_not_exists(sk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": project},
                                "sk": {"S": KEY_SK_PREFIX + digest},
                                "key_name": {"S": name},
                                "created_at": {"S": created},
                                **limits.attributes(),
                            },
                            "ConditionExpression": "attribute_not_exists(sk)",
                        }
                    },
                ]
            )
        except Exception as exc:
            if _code(exc) == "TransactionCanceledException":
                if _reasons(exc)[:1] == ["ConditionalCheckFailed"]:
                    raise ApiKeyError(
                        f"{project}: an active key is already named {name!r} (revoke it first, or pick another name)"
                    ) from None
                raise ApiKeyError(
                    f"{project}: creating key {name!r} collided with another change; nothing was written, try again"
                ) from None
            raise
        return key, ApiKeyRecord(project=project, name=name, digest=digest, created_at=created, limits=limits)

    def records(self, project: str) -> Iterator[ApiKeyRecord]:
        """Every key of the project, active and revoked (a Query on its partition)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :k)",
            "ExpressionAttributeValues": {":p": {"S": project}, ":k": {"S": KEY_SK_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**kwargs)
            for item in response.get("Items", []):
                yield ApiKeyRecord.from_item(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def lookup(self, project: str, digest: str) -> ApiKeyRecord | None:
        """The key with this hash in the project's partition (one GetItem), or None."""
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": project}, "sk": {"S": KEY_SK_PREFIX + digest}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return ApiKeyRecord.from_item(item) if item else None

    def _active_digest(self, project: str, name: str) -> str:
        check_name(name)
        claim = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": project}, "sk": {"S": NAME_SK_PREFIX + name}},
            ConsistentRead=True,
        ).get("Item")
        if not claim:
            raise ApiKeyError(f"{project}: no active key named {name!r} (claude-finops keys list)")
        return str(claim["key_hash"]["S"])

    def update(self, project: str, name: str, changes: dict[str, Any]) -> ApiKeyRecord:
        """Set or remove (None; `()` for alert_thresholds) limits of the project's active key `name`.

        `changes` maps names from LIMIT_ATTRIBUTES and `alert_thresholds` to the new value; the
        result is validated as a whole. The function sees the change within its lookup cache's
        lifetime (30 s).
        """
        allowed = {*LIMIT_ATTRIBUTES, THRESHOLDS_ATTRIBUTE}
        if set(changes) - allowed or not changes:
            raise ApiKeyError(f"give at least one of {', '.join(sorted(allowed))} to change")
        digest = self._active_digest(project, name)
        current = self.lookup(project, digest)
        base = current.limits if current else KeyLimits()
        merged = KeyLimits(
            **{k: changes.get(k, getattr(base, k)) for k in LIMIT_ATTRIBUTES},
            alert_thresholds=tuple(sorted(changes.get(THRESHOLDS_ATTRIBUTE, base.alert_thresholds) or ())),
        )
        attributes = merged.attributes()
        sets = {k: v for k, v in attributes.items() if k in changes}
        removes = [k for k in changes if k not in attributes]
        expression = ""
        if sets:
            expression += "SET " + ", ".join(f"{k} = :{k}" for k in sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        values: dict[str, Any] = {f":{k}": v for k, v in sets.items()}
        values[":n"] = {"S": name}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": project}, "sk": {"S": KEY_SK_PREFIX + digest}},
                UpdateExpression=expression.strip(),
                ConditionExpression="attribute_exists(sk) AND attribute_not_exists(revoked_at) AND key_name = :n",
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise ApiKeyError(
                    f"{project}: key {name!r} was revoked or replaced meanwhile; nothing changed"
                ) from None
            raise
        record = self.lookup(project, digest)
        assert record is not None
        return record

    def revoke(self, project: str, name: str, *, now: datetime) -> ApiKeyRecord:
        """Revoke the project's active key named `name` and free the name; ApiKeyError if none."""
        digest = self._active_digest(project, name)
        revoked = _iso(now)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": project}, "sk": {"S": KEY_SK_PREFIX + digest}},
                            "UpdateExpression": "SET revoked_at = :t",
                            "ConditionExpression": "attribute_exists(sk) AND attribute_not_exists(revoked_at)",
                            "ExpressionAttributeValues": {":t": {"S": revoked}},
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": project}, "sk": {"S": NAME_SK_PREFIX + name}},
                            "ConditionExpression": "key_hash = :h",
                            "ExpressionAttributeValues": {":h": {"S": digest}},
                        }
                    },
                ]
            )
        except Exception as exc:
            if _code(exc) == "TransactionCanceledException":
                raise ApiKeyError(
                    f"{project}: key {name!r} changed while revoking it (revoked or replaced meanwhile); "
                    "run keys list and try again"
                ) from None
            raise
        record = self.lookup(project, digest)
        assert record is not None
        return record
