"""The auth server's admin token, shared by every test module of the session: the real server
creates it once (409 after), and `test_token_endpoints` replaces it by regenerating."""

from __future__ import annotations

import requests

TOKENS: dict[str, str] = {}


def admin_token(server) -> str:
    """The admin token can be created once per server; the first caller keeps it for the others."""
    if server.url not in TOKENS:
        response = requests.post(f"{server.url}/api/v3/configure/token/admin", timeout=10)
        assert response.status_code == 201, response.text
        TOKENS[server.url] = response.json()["token"]
    return TOKENS[server.url]
