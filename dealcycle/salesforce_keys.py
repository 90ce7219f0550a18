"""The JWT bearer flow's key pair: an RSA private key the worker signs assertions with, and the
self-signed certificate uploaded to the Salesforce connected app (which verifies them).

``dealcycle salesforce keygen`` makes one for a real org; the sandbox makes its own for the
Salesforce fake (``dealcycle.fakes.salesforce_oauth``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from dealcycle.files import write_atomically

DEFAULT_LIFETIME = timedelta(days=730)
KEY_SIZE = 2048


def generate_connected_app_key(
    key_path: Path,
    cert_path: Path,
    *,
    common_name: str = "dealcycle integration",
    lifetime: timedelta = DEFAULT_LIFETIME,
    overwrite: bool = False,
) -> x509.Certificate:
    """Write an RSA key (PEM, PKCS#8, unencrypted, mode 0600) and its self-signed certificate.

    Refuses (``FileExistsError``) to replace an existing key unless ``overwrite``: the
    connected app would stop accepting the old one.
    """
    if key_path.exists() and not overwrite:
        raise FileExistsError(f"{key_path} exists")
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + lifetime)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomically(key_path, pem, 0o600)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert


def certificate_matches_key(key_path: Path, cert_path: Path, *, min_remaining: timedelta) -> bool:
    """Whether ``cert_path`` certifies ``key_path``'s RSA key for at least ``min_remaining``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return (
        isinstance(key, rsa.RSAPrivateKey)
        and cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)
        and cert.not_valid_after_utc - datetime.now(UTC) > min_remaining
    )
