"""Who is calling: the caller identity the HTTPS endpoint authenticates (per-caller API keys).

The contract between the web app and the key store: the app passes the request headers to an
`Authenticator`, which returns the `Caller` or raises `ProxyError(ErrorType.AUTHENTICATION_FAILED)`
before anything is reserved or sent. Keys themselves never leave this boundary: a `Caller` carries
the key's name and id (a hash prefix), never the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the key's name (its identity in spend records) and its id."""

    key_name: str
    key_id: str


class Authenticator(Protocol):
    """Resolves request headers (lower-case names) to a Caller."""

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller; raises ProxyError(AUTHENTICATION_FAILED) for a missing, unknown or revoked key."""
        ...
