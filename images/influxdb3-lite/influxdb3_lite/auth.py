"""Tokens and Authorization headers, as InfluxDB 3 Core checks them (specs § 1.3)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import threading
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
class Tokens:
    """`enabled` False is `--without-auth`: every request passes."""

    enabled: bool
    valid: set[str] = field(default_factory=set)
    admin_created: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check_header(self, header: str | None, fallback: str | None = None) -> None:
        if not self.enabled:
            return
        token = token_from_header(header) if header is not None else fallback
        if token is None or token not in self.valid:
            raise AuthError(UNAUTHENTICATED, 401)

    def create_admin(self) -> dict[str, object]:
        with self.lock:
            if self.admin_created:
                raise AuthError("token name already exists, _admin", 409)
            token = "apiv3_" + base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("=")
            self.valid.add(token)
            self.admin_created = True
        now = dt.datetime.now(dt.UTC).isoformat()
        return {
            "id": 0,
            "name": "_admin",
            "token": token,
            "hash": hashlib.sha512(token.encode()).hexdigest(),
            "created_at": now,
            "expiry": None,
        }


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
