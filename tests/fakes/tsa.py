"""A fake RFC 3161 time-stamp authority over HTTP, with a TSA certificate issued by the test's CA."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


def _der(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _issue_tsa_cert(ca_cert: x509.Certificate, ca_key: Any, key: rsa.RSAPrivateKey, now: datetime) -> x509.Certificate:
    """A time-stamping certificate from the CA: critical EKU timeStamping, digitalSignature, valid now ± 1 year."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fake TSA"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Fake Time-Stamp Authority"),
        ]
    )
    key_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    # EdDSA keys sign without a separate hash algorithm.
    algorithm = None if isinstance(ca_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=365))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, algorithm)
    )


class FakeTsa:
    """An RFC 3161 TSA on 127.0.0.1 at /tsa; `requests` counts the time-stamps it answered."""

    def __init__(self, ca_cert: x509.Certificate, ca_key: Any, *, now: Callable[[], datetime] | None = None) -> None:
        self.now = now
        self.ca_cert = ca_cert
        # pyHanko's DummyTimeStamper signs with RSA only, so the TSA key is RSA whatever the CA's key is.
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert = _issue_tsa_cert(ca_cert, ca_key, self.key, now() if now else datetime.now(UTC))
        self.requests = 0
        self._key_info = asn1_keys.PrivateKeyInfo.load(
            self.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/tsa", self._tsa)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}/tsa"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _tsa(self, request: web.Request) -> web.Response:
        if request.method != "POST" or request.content_type != QUERY_TYPE:
            return web.Response(status=400, text="expected POST with Content-Type application/timestamp-query")
        try:
            req = tsp.TimeStampReq.load(await request.read())
            req.native  # parse everything now: asn1crypto decodes lazily  # noqa: B018
        except (ValueError, TypeError):
            return web.Response(status=400, text="not a DER TimeStampReq")
        stamper = DummyTimeStamper(
            tsa_cert=_der(self.cert),
            tsa_key=self._key_info,
            certs_to_embed=SimpleCertificateStore.from_certs([_der(self.ca_cert)]),
            fixed_dt=self.now() if self.now else None,
        )
        response = stamper.request_tsa_response(req)
        self.requests += 1
        return web.Response(body=response.dump(), content_type=REPLY_TYPE)
