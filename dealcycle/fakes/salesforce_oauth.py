"""The Salesforce fake's token endpoint: the three OAuth 2.0 grants dealcycle logs in with.

- ``urn:ietf:params:oauth:grant-type:jwt-bearer``: the assertion must be signed RS256 with the
  key of the connected app's certificate, ``iss`` the consumer key, ``sub`` a known user,
  ``aud`` one of the org's login URLs, and ``exp`` neither past nor more than three minutes
  (and a little clock skew) ahead; Salesforce's refusals otherwise.
- ``client_credentials``: the consumer key and secret; the session runs as the app's run-as
  user (none set: ``invalid_grant``, as in an org that has not enabled the flow).
- ``password``: the consumer key and secret and the user's password.

``ensure_connected_app_files`` makes what a Salesforce admin makes for the JWT flow: an RSA
key and a self-signed certificate (the one uploaded to the connected app), reused while valid.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography import x509

from dealcycle.fakes._http import Response, json_response
from dealcycle.fakes.tls import _MIN_REMAINING
from dealcycle.salesforce_keys import certificate_matches_key, generate_connected_app_key

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = timedelta(minutes=3)
CLOCK_SKEW = timedelta(seconds=30)
"""How far ahead of the fake's clock an assertion's ``exp`` may be beyond its lifetime."""

JWT_KEY = "salesforce-jwt-key.pem"
JWT_CERT = "salesforce-jwt-cert.pem"


@dataclass(frozen=True)
class ConnectedAppFiles:
    """The JWT flow's key pair: the client signs with ``key``; the org holds ``cert``."""

    key: Path
    """RSA private key (PEM, PKCS#8, unencrypted, mode 0600): ``SALESFORCE_JWT_KEY_FILE``."""
    cert: Path
    """Self-signed certificate (PEM): what is uploaded to the connected app."""


def ensure_connected_app_files(directory: str | os.PathLike[str]) -> ConnectedAppFiles:
    """Create (or reuse, while valid and matching) the JWT key and certificate in ``directory``."""
    folder = Path(directory)
    files = ConnectedAppFiles(folder / JWT_KEY, folder / JWT_CERT)
    if not certificate_matches_key(files.key, files.cert, min_remaining=_MIN_REMAINING):
        generate_connected_app_key(files.key, files.cert, overwrite=True)
    return files


def oauth_error(error: str, description: str) -> Response:
    return json_response(400, {"error": error, "error_description": description})


def _same(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class TokenEndpoint:
    """What the org knows about the connected app and its users; ``grant`` checks a request."""

    client_id: str
    client_secret: str = field(repr=False)
    passwords: Mapping[str, str] = field(repr=False)
    """Known users and their passwords (``sub`` of an assertion must be one of them)."""
    audiences: tuple[str, ...] = ()
    """``aud`` values an assertion may name besides the login URL it is posted to."""
    certificate: Path | None = None
    """The connected app's certificate; without one the JWT flow is refused."""
    run_as_user: str | None = None
    """The client credentials flow's user; ``None``: the flow is not enabled."""
    clock_ahead: timedelta = timedelta()
    """How far the org's clock is ahead of this machine's (assertions expire that much early)."""

    def grant(
        self, form: Mapping[str, str], *, login_url: str, now: datetime | None = None
    ) -> str | Response:
        """The user a token is issued to, or Salesforce's refusal; ``login_url`` (the org's
        own, where the request came) is an audience an assertion may name."""
        grant_type = form.get("grant_type")
        if grant_type == JWT_BEARER_GRANT:
            audiences = (login_url, *self.audiences)
            return self._jwt(form.get("assertion", ""), audiences, now or datetime.now(UTC))
        if grant_type == "client_credentials":
            refusal = self._client(form)
            if refusal is not None:
                return refusal
            if self.run_as_user is None:
                return oauth_error("invalid_grant", "no client credentials user enabled")
            return self.run_as_user
        if grant_type == "password":
            refusal = self._client(form)
            if refusal is not None:
                return refusal
            username = form.get("username", "")
            expected = self.passwords.get(username)
            if expected is None or not _same(form.get("password", ""), expected):
                return oauth_error("invalid_grant", "authentication failure")
            return username
        return oauth_error("unsupported_grant_type", "grant type not supported")

    def _client(self, form: Mapping[str, str]) -> Response | None:
        if not _same(form.get("client_id", ""), self.client_id):
            return oauth_error("invalid_client_id", "client identifier invalid")
        if not _same(form.get("client_secret", ""), self.client_secret):
            return oauth_error("invalid_client", "invalid client credentials")
        return None

    def _jwt(self, assertion: str, audiences: tuple[str, ...], now: datetime) -> str | Response:
        if self.certificate is None:
            return oauth_error("invalid_grant", "invalid assertion")
        public_key = x509.load_pem_x509_certificate(self.certificate.read_bytes()).public_key()
        try:
            claims = jwt.decode(
                assertion,
                public_key,  # type: ignore[arg-type]  # an RSA key: RS256 only below
                algorithms=["RS256"],
                # Expiry is checked below, against the org's clock (``clock_ahead``).
                options={
                    "require": ["iss", "sub", "aud", "exp"],
                    "verify_aud": False,
                    "verify_exp": False,
                },
            )
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        except (jwt.InvalidTokenError, TypeError, ValueError, OverflowError):
            return oauth_error("invalid_grant", "invalid assertion")
        if not _same(claims["iss"], self.client_id):
            return oauth_error("invalid_client_id", "client identifier invalid")
        if claims["aud"] not in audiences:
            return oauth_error("invalid_grant", "audience is invalid")
        org_now = now + self.clock_ahead
        if expires <= org_now:
            return oauth_error("invalid_grant", "expired assertion")
        if expires - org_now > MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
            return oauth_error(
                "invalid_grant", "invalid assertion: expiry more than 3 minutes ahead"
            )
        if not isinstance(claims["sub"], str) or claims["sub"] not in self.passwords:
            return oauth_error("invalid_grant", "user hasn't approved this consumer")
        return str(claims["sub"])
