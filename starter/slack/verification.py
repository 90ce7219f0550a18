"""Which inbound HTTP requests come from Slack, once.

Slack signs every request: ``X-Slack-Signature: v0=HMAC_SHA256(secret, "v0:{ts}:{body}")`` with
``X-Slack-Request-Timestamp``. A bad signature or a timestamp more than five minutes from now is
refused; so is a request whose (timestamp, signature) was already accepted, which only a replay
of a captured request can produce (Slack's own retries are signed anew).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from slack_sdk.signature import Clock, SignatureVerifier

WINDOW_SECONDS = 300
"""Slack's own rule: a request more than five minutes old (or ahead) is refused."""
MAX_REMEMBERED = 100_000
"""Accepted requests remembered for the window. Only correctly signed requests are
remembered, so filling it takes the secret; when full a new request is refused rather than an
unexpired one forgotten (forgetting would let that one be replayed)."""


class RequestGuard:
    """Verifies the signature and timestamp, and refuses a replay within the window."""

    def __init__(
        self,
        signing_secret: str,
        clock: Callable[[], float] = time.time,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        if not signing_secret:
            raise ValueError(
                "SLACK_SIGNING_SECRET is empty: the app cannot verify Slack's requests"
            )
        self._secret = signing_secret
        self._clock = clock
        self._max = max_remembered
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        """(timestamp, signature) -> when it may be forgotten, oldest first."""

    def refusal(self, body: str, headers: Mapping[str, str]) -> str | None:
        """Why the request is refused (for the log line, never the body), or ``None``."""
        timestamp = headers.get("X-Slack-Request-Timestamp") or ""
        signature = headers.get("X-Slack-Signature") or ""
        if not timestamp or not signature:
            return "unsigned: no X-Slack-Signature or X-Slack-Request-Timestamp"
        try:
            sent_at = int(timestamp)
        except ValueError:
            return "malformed X-Slack-Request-Timestamp"
        now = self._clock()
        if abs(now - sent_at) > WINDOW_SECONDS:
            return f"stale: the timestamp is {int(now - sent_at)} s from now (at most 300)"
        verifier = SignatureVerifier(self._secret, clock=_Fixed(now))
        if not verifier.is_valid(body, timestamp, signature):
            return "bad signature"
        self._forget_expired(now)
        key = (timestamp, signature)
        if key in self._seen:
            return "replayed: this timestamp and signature were already accepted"
        if len(self._seen) >= self._max:
            return "too many requests in five minutes to remember them all"
        self._seen[key] = sent_at + WINDOW_SECONDS
        return None

    def _forget_expired(self, now: float) -> None:
        # Insertion order is nearly expiry order (timestamps drift by seconds at most), so
        # the oldest entries are checked first and the loop stops at the first live one.
        while self._seen:
            key, expires = next(iter(self._seen.items()))
            if expires >= now:
                return
            del self._seen[key]


class _Fixed(Clock):
    """The clock ``SignatureVerifier`` reads, pinned to the guard's reading of it."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now
