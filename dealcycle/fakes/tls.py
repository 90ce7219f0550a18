"""A local certificate authority and server certificate for the HTTPS Salesforce fake.

simple-salesforce always speaks ``https://`` to the instance, so the fake needs a certificate
the client trusts. Clients trust it with ``requests.Session().verify = files.ca``
(``SALESFORCE_CA_BUNDLE``). Files are reused while valid, so a long-running worker keeps
trusting a restarted fake.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dealcycle.files import write_atomically

DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"

_CA_LIFETIME = timedelta(days=3650)
_SERVER_LIFETIME = timedelta(days=825)
# Regenerate a little before expiry so a certificate never lapses in the middle of a run.
_MIN_REMAINING = timedelta(days=2)


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    """Server certificate (PEM)."""
    key: Path
    """Server private key (PEM, unencrypted, mode 0600)."""
    ca: Path
    """CA bundle clients trust (PEM)."""

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert), str(self.key))
        return context


def ensure_tls_files(
    directory: str | os.PathLike[str], hosts: Sequence[str] = DEFAULT_HOSTS
) -> TLSFiles:
    """Create (or reuse, when still valid) a CA and a server certificate for ``hosts``.

    ``hosts`` are DNS names or IP addresses put in the certificate's subjectAltName.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(folder / SERVER_CERT, folder / SERVER_KEY, folder / CA_CERT)
    with _locked(folder):
        ca = _load_valid_ca(folder)
        if ca is None:
            ca = _new_ca()
            _write_key(folder / CA_KEY, ca[1])
            _write(folder / CA_CERT, ca[0].public_bytes(serialization.Encoding.PEM))
        ca_cert, ca_key = ca
        if not _server_valid(files, ca_cert, hosts):
            cert, key = _new_server(ca_cert, ca_key, hosts)
            _write_key(files.key, key)
            _write(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    return files


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    # Two processes (the sandbox and a test session) may create the files at the same time;
    # without a lock one could pair the other's certificate with its own key.
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: best effort without a lock
        yield
        return
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_write = write_atomically


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pem, 0o600)


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _fresh(cert: x509.Certificate) -> bool:
    now = datetime.now(UTC)
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > _MIN_REMAINING


def _same_public_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def _load_valid_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    cert, key = _load_cert(folder / CA_CERT), _load_key(folder / CA_KEY)
    if cert is None or key is None or not _fresh(cert) or not _same_public_key(cert, key):
        return None
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None
    return (cert, key) if constraints.ca else None


def _server_valid(files: TLSFiles, ca_cert: x509.Certificate, hosts: Sequence[str]) -> bool:
    cert, key = _load_cert(files.cert), _load_key(files.key)
    if cert is None or key is None or not _fresh(cert) or not _same_public_key(cert, key):
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    present = set(san.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }
    return all(str(_san_entry(host).value) in present for host in hosts)


def _san_entry(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _new_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dealcycle local fakes CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_server(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: Sequence[str]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + _SERVER_LIFETIME)
        .add_extension(x509.SubjectAlternativeName([_san_entry(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key
