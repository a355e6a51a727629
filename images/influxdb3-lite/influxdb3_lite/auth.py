"""Tokens and Authorization headers, as InfluxDB 3 Core checks them (specs § 1.3)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

MALFORMED = (
    "Authorization header was malformed, the request was not in the form of "
    "'Authorization: <auth-scheme> <token>', supported auth-schemes are Bearer, Token and Basic"
)
UNAUTHENTICATED = "the request was not authenticated"
SCHEMES = ("Bearer", "Token", "Basic")


class AuthError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class TokenInfo:
    id: int
    name: str
    token: str
    created_at: str
    expiry_millis: int | None = None

    def response(self) -> dict[str, object]:
        """`CreateTokenWithPermissionsResponse` (influxdb3_types/src/http.rs)."""
        return {
            "id": self.id,
            "name": self.name,
            "token": self.token,
            "hash": hashlib.sha512(self.token.encode()).hexdigest(),
            "created_at": self.created_at,
            "expiry": self.expiry_millis,
        }


@dataclass
class Tokens:
    """`enabled` False is `--without-auth`: every request passes.

    Tokens given on the command line (`--admin-token-file` is not modelled) count as valid but
    are not named; `_admin` is the operator token the bootstrap endpoint creates."""

    enabled: bool
    valid: set[str] = field(default_factory=set)
    named: dict[str, TokenInfo] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def admin_created(self) -> bool:
        return "_admin" in self.named

    def check_header(self, header: str | None, fallback: str | None = None) -> None:
        if not self.enabled:
            return
        token = token_from_header(header) if header is not None else fallback
        if token is None or not self.is_valid(token):
            raise AuthError(UNAUTHENTICATED, 401)

    def is_valid(self, token: str) -> bool:
        now = int(time.time() * 1000)
        with self.lock:
            return token in self.valid or any(
                t.token == token and (t.expiry_millis is None or t.expiry_millis > now)
                for t in self.named.values()
            )

    def create_admin(self, regenerate: bool = False) -> dict[str, object]:
        """The operator token: once (409 after), or replaced by `regenerate` (the old one dies)."""
        with self.lock:
            if regenerate and "_admin" not in self.named:
                raise AuthError("missing admin token, cannot update", 404)
            if not regenerate and "_admin" in self.named:
                raise AuthError("token name already exists, _admin", 409)
            info = self._new("_admin", None)
        return info.response()

    def create_named_admin(self, name: str, expiry_secs: int | None) -> dict[str, object]:
        with self.lock:
            if name in self.named:
                raise AuthError(f"token name already exists, {name}", 409)
            expiry = int(time.time() * 1000) + expiry_secs * 1000 if expiry_secs else None
            info = self._new(name, expiry)
        return info.response()

    def delete(self, name: str) -> None:
        with self.lock:
            if name == "_admin":
                raise AuthError("cannot delete operator token", 405)
            if self.named.pop(name, None) is None:
                raise AuthError("not found", 404)

    def _new(self, name: str, expiry_millis: int | None) -> TokenInfo:
        token = "apiv3_" + base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("=")
        created = dt.datetime.now(dt.UTC).isoformat()
        info = TokenInfo(len(self.named), name, token, created, expiry_millis)
        self.named[name] = info
        return info


def token_from_header(header: str) -> str:
    parts = header.split(" ")
    if len(parts) != 2 or parts[0] not in SCHEMES or not parts[1]:
        raise AuthError(MALFORMED, 400)
    scheme, value = parts
    if scheme != "Basic":
        return value
    try:
        user_token = base64.b64decode(value, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise AuthError(MALFORMED, 400) from None
    user, sep, token = user_token.partition(":")
    if not sep or ":" in token:
        raise AuthError(MALFORMED, 400)
    return token
