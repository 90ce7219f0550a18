"""Logging in to Salesforce: the OAuth 2.0 token request of each flow ``SALESFORCE_AUTH`` names.

- ``jwt`` (the default): the JWT bearer flow. An assertion signed RS256 with the private key
  whose certificate is uploaded to the connected app (``iss`` = consumer key, ``sub`` =
  username, ``aud`` = login URL, ``exp`` three minutes ahead) is exchanged for a token; no
  secret travels, and the user must be pre-authorized for the app.
- ``client_credentials``: the consumer key and secret, against the org's My Domain URL;
  Salesforce runs the session as the connected app's run-as user.
- ``password``: the username-password flow, which Salesforce blocks in orgs created since
  Summer '23; kept for the local sandbox.

Each answers ``instance_url`` and ``access_token``, which simple-salesforce then uses as its
session. A refusal (``invalid_grant``, ``invalid_client``...) raises a non-retryable
``SalesforceLoginError`` naming the setting to fix; only an unreachable or failing login is
worth another try. Neither the assertion, the secret, the password nor the token is ever
logged or put in a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.api import Salesforce

from activities.errors import clip
from dealcycle.settings import SalesforceSettings

log = structlog.get_logger(__name__)

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = timedelta(minutes=3)
"""How long an assertion is valid: Salesforce takes none that expires later than this."""
_SHARED_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")

# What to check when the token endpoint refuses the login, by flow and OAuth error code.
_COMMON_HINTS = {
    "invalid_client_id": "SALESFORCE_CLIENT_ID (the connected app's consumer key)",
    "inactive_user": "SALESFORCE_USERNAME (the user is inactive)",
    "inactive_org": "the Salesforce org (it is inactive)",
}
_HINTS: dict[str, dict[str, str]] = {
    "jwt": {
        "invalid_grant": "SALESFORCE_JWT_KEY_FILE (the private key of the certificate uploaded"
        " to the connected app), SALESFORCE_USERNAME (an active user pre-authorized for the"
        " app) and SALESFORCE_LOGIN_URL (the assertion's audience)",
        "invalid_client": "SALESFORCE_CLIENT_ID (the connected app's consumer key)",
        "unsupported_grant_type": 'that the connected app has "Use digital signatures" on',
    },
    "client_credentials": {
        "invalid_client": "SALESFORCE_CLIENT_SECRET (the connected app's consumer secret)",
        "invalid_grant": "the connected app's Client Credentials Flow: enable it and set its"
        " run-as user (Manage > Edit Policies)",
        "invalid_request": "SALESFORCE_LOGIN_URL (the client credentials flow needs the org's"
        " My Domain URL, https://MYDOMAIN.my.salesforce.com)",
        "unsupported_grant_type": "that the connected app enables the Client Credentials Flow",
    },
    "password": {
        "invalid_client": "SALESFORCE_CLIENT_SECRET (the connected app's consumer secret)",
        "invalid_grant": "SALESFORCE_USERNAME and SALESFORCE_PASSWORD (append the security"
        " token to the password if the org requires one)",
        "unsupported_grant_type": "that the connected app allows the OAuth username-password"
        " flow (new orgs block it: use SALESFORCE_AUTH=jwt)",
    },
}
# A JWT refusal's description narrows down which setting is wrong.
_JWT_GRANT_HINTS = (
    (
        "audience",
        "SALESFORCE_LOGIN_URL (the assertion's audience: https://login.salesforce.com,"
        " https://test.salesforce.com or the org's My Domain URL)",
    ),
    (
        "approved",
        "SALESFORCE_USERNAME (an existing, active user, pre-authorized for the connected"
        " app through its profile or a permission set under Manage > Profiles/Permission Sets)",
    ),
    ("expir", "this machine's clock (an assertion is valid for 3 minutes from now)"),
    (
        "assertion",
        "SALESFORCE_JWT_KEY_FILE (the private key of the certificate uploaded to the"
        " connected app)",
    ),
)


class SalesforceLoginError(Exception):
    """The OAuth login failed; the message names the setting to check, never its value."""

    def __init__(self, message: str, *, retryable: bool, code: str) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


@dataclass(frozen=True)
class TokenRequest:
    """The POST to ``{login_url}/services/oauth2/token`` of one flow."""

    flow: str
    url: str
    form: dict[str, str] = field(repr=False)


def _refused(message: str, code: str) -> SalesforceLoginError:
    return SalesforceLoginError(message, retryable=False, code=code)


def load_jwt_key(path: str) -> rsa.RSAPrivateKey:
    """The RSA private key in ``path`` (PEM, unencrypted), or a refusal naming the setting."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _refused(
            f"SALESFORCE_JWT_KEY_FILE cannot be read ({exc.strerror or type(exc).__name__}):"
            f" {path}",
            "jwt_key_unreadable",
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise _refused(
            f"SALESFORCE_JWT_KEY_FILE {path} is not an unencrypted PEM private key",
            "jwt_key_invalid",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _refused(
            f"SALESFORCE_JWT_KEY_FILE {path} is not an RSA key (Salesforce verifies RS256)",
            "jwt_key_invalid",
        )
    return key


def jwt_assertion(settings: SalesforceSettings, now: datetime | None = None) -> str:
    """The signed assertion of the JWT bearer flow (valid ``ASSERTION_LIFETIME``)."""
    key = load_jwt_key(settings.jwt_key_file)
    moment = now or datetime.now(UTC)
    claims = {
        "iss": settings.client_id,
        "sub": settings.username,
        "aud": settings.login_url,
        "exp": int((moment + ASSERTION_LIFETIME).timestamp()),
    }
    return jwt.encode(claims, key, algorithm="RS256")


def token_request(settings: SalesforceSettings, now: datetime | None = None) -> TokenRequest:
    """The token request of ``settings.auth``; a refusal when a setting it needs is missing."""
    missing = settings.missing()
    if missing:
        advice = ""
        if settings.auth == "jwt" and settings.password and "SALESFORCE_JWT_KEY_FILE" in missing:
            advice = (
                " (SALESFORCE_AUTH is jwt, the default; set SALESFORCE_AUTH=password to"
                " keep the username-password flow)"
            )
        raise _refused(
            f"Salesforce is not configured: set {', '.join(missing)}{advice}", "not_configured"
        )
    url = f"{settings.login_url.rstrip('/')}/services/oauth2/token"
    if settings.auth == "jwt":
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": jwt_assertion(settings, now)}
    elif settings.auth == "client_credentials":
        if urlsplit(settings.login_url).hostname in _SHARED_LOGIN_HOSTS:
            raise _refused(
                f"SALESFORCE_LOGIN_URL is {settings.login_url}: the client credentials flow"
                " needs the org's My Domain URL (https://MYDOMAIN.my.salesforce.com)",
                "not_my_domain",
            )
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        }
    else:
        form = {
            "grant_type": "password",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "username": settings.username,
            "password": settings.password,
        }
    return TokenRequest(settings.auth, url, form)


def refusal_hint(flow: str, code: str, description: str) -> str:
    """Which setting to check after the token endpoint answered ``code``."""
    if flow == "jwt" and code == "invalid_grant":
        lowered = description.lower()
        for needle, hint in _JWT_GRANT_HINTS:
            if needle in lowered:
                return hint
    return (
        _HINTS.get(flow, {}).get(code)
        or _COMMON_HINTS.get(code)
        or "the SALESFORCE_* login settings"
    )


def log_in(
    session: requests.Session, settings: SalesforceSettings, now: datetime | None = None
) -> Salesforce:
    """A simple-salesforce client on a fresh session token (blocking)."""
    request = token_request(settings, now)
    url = request.url
    try:
        response = session.post(url, data=request.form)
    except requests.exceptions.SSLError:
        raise _refused(
            f"TLS verification failed at the Salesforce login {url}; check "
            "SALESFORCE_CA_BUNDLE and SALESFORCE_LOGIN_URL",
            "tls",
        ) from None
    except requests.RequestException as exc:
        raise SalesforceLoginError(
            f"Salesforce unreachable ({type(exc).__name__}) at the login {url}",
            retryable=True,
            code="unreachable",
        ) from None
    if response.status_code >= 500:
        raise SalesforceLoginError(
            f"Salesforce unavailable (HTTP {response.status_code}) at the login {url}",
            retryable=True,
            code="server_error",
        )
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if (
        response.status_code == 200
        and isinstance(payload, dict)
        and payload.get("access_token")
        and payload.get("instance_url")
    ):
        log.info("salesforce_logged_in", flow=request.flow, instance_url=payload["instance_url"])
        return Salesforce(
            instance_url=payload["instance_url"],
            session_id=payload["access_token"],
            session=session,
            version=settings.api_version,
        )
    if isinstance(payload, dict) and payload.get("error"):
        code = clip(str(payload["error"]), 100)
        description = clip(str(payload.get("error_description") or ""), 200)
        hint = refusal_hint(request.flow, code, description)
        log.warning("salesforce_login_refused", flow=request.flow, error=code)
        raise _refused(
            f"{code}: the Salesforce login ({request.flow}) at {url} was refused"
            f" ({description}); check {hint}",
            code,
        )
    raise _refused(
        f"unexpected answer (HTTP {response.status_code}) from the Salesforce login {url};"
        " check SALESFORCE_LOGIN_URL",
        "unexpected_response",
    )
