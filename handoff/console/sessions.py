"""Console login sessions as HMAC-signed cookies: no server state, expiry inside the signature."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

COOKIE = "omnicrm_console"
MAX_AGE_S = 12 * 3600


@dataclass(frozen=True)
class ConsoleSession:
    agent_id: str
    issued_at: int


class SessionSigner:
    """Signs and checks session cookies and the CSRF tokens bound to them."""

    def __init__(self, secret: bytes, *, max_age_s: int = MAX_AGE_S) -> None:
        self._secret = secret
        self.max_age_s = max_age_s

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, agent_id: str, *, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        payload = f"{agent_id}.{issued}"
        return f"{payload}.{self._sign(payload)}"

    def read(self, cookie: str | None, *, now: float | None = None) -> ConsoleSession | None:
        """The session a cookie proves, or None when absent, forged or expired."""
        if not cookie or cookie.count(".") != 2:
            return None
        agent_id, issued, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{agent_id}.{issued}")):
            return None
        if not issued.isdigit():
            return None
        current = now if now is not None else time.time()
        if current - int(issued) > self.max_age_s:
            return None
        return ConsoleSession(agent_id, int(issued))

    def csrf_token(self, cookie: str) -> str:
        """A token only a page rendered for this session can know (double submit)."""
        return self._sign(f"csrf:{cookie}")

    def check_csrf(self, cookie: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(cookie), token)
