"""Development trust services: an RFC 3161 timestamp authority and the development CA's CRL.

``titles run`` starts it (process ``tsa``, port ``TSA_PORT``, 8007) and the
tests start it on a thread. The timestamps are made by pyHanko's own test TSA
(``DummyTimeStamper``) with the development PKI's TSA certificate; the CRL is
signed afresh every five minutes and revokes nothing. Never for production:
there ``CERTIFICATE_TSA_URL`` names a real timestamp authority and the signing
certificate's CA publishes its own revocation data.

    POST /tsa     application/timestamp-query -> application/timestamp-reply
    GET  /crl     the development CA's CRL (DER)
    GET  /health
"""

from __future__ import annotations

import threading
import time

from flask import Flask, Response, jsonify, request

from services.certificate import dev_pki

MAX_QUERY_BYTES = 16 * 1024
CRL_REISSUE_S = 300.0


def _stamper(pki: dev_pki.DevPki):  # noqa: ANN202 - pyhanko's DummyTimeStamper
    from asn1crypto import cms, core, keys, tsp, x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.general import as_signing_certificate, simple_cms_attribute
    from pyhanko.sign.timestamps.common_utils import get_nonce
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    key = serialization.load_pem_private_key(pki.tsa_key.read_bytes(), password=None)
    assert isinstance(key, RSAPrivateKey), "the development TSA's key is RSA (dev_pki)"
    rsa_key: RSAPrivateKey = key  # narrowed for the method below
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    tsa_cert = load_cert_from_pemder(str(pki.tsa_cert))
    # The same for every token, encoded once: asn1crypto builds a name or an ESS certificate reference
    # from the parsed certificate by copying and re-encoding every part of it, 1.6 ms of a token's 6.
    signing_certificate = simple_cms_attribute("signing_certificate", as_signing_certificate(tsa_cert)).dump()
    tsa_name = x509.GeneralName(name="directory_name", value=tsa_cert.subject).dump()

    class KeyParsedOnce(DummyTimeStamper):
        """pyHanko's test TSA parses its key again for every token (OpenSSL checks an RSA key's primes,
        some 27 ms of the 30 a token costs); this one signs the same attributes with the key parsed above,
        and puts in the parts that never change as they were encoded once."""

        def _build_tst_info(self, message_imprint, dt, req):  # noqa: ANN001, ANN202
            return tsp.TSTInfo(
                {
                    "version": "v1",
                    "policy": tsp.ObjectIdentifier("1.3.6.1.4.1.4146.2.2"),  # pyHanko's, as in its own
                    "message_imprint": message_imprint,
                    "serial_number": get_nonce(),
                    "gen_time": dt,
                    "tsa": x509.GeneralName.load(tsa_name),
                    **({"nonce": req["nonce"]} if req["nonce"].native is not None else {}),
                }
            )

        def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, dt):  # noqa: ANN001, ANN202
            digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
            digest.update(tst_info_data)
            signed_attrs = cms.CMSAttributes(
                [
                    simple_cms_attribute("content_type", "tst_info"),
                    simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                    cms.CMSAttribute.load(signing_certificate),
                    simple_cms_attribute("message_digest", digest.finalize()),
                ]
            )
            signature = rsa_key.sign(signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper()))
            return signature, signed_attrs

    return KeyParsedOnce(
        tsa_cert=tsa_cert,
        tsa_key=keys.PrivateKeyInfo.load(der),
        certs_to_embed=SimpleCertificateStore.from_certs([load_cert_from_pemder(str(pki.ca_cert))]),
    )


def create_app(pki: dev_pki.DevPki | None = None) -> Flask:
    from asn1crypto import tsp

    pki = pki or dev_pki.ensure()
    stamper = _stamper(pki)
    lock = threading.Lock()  # one token at a time: the serial numbers and the key are shared
    app = Flask("titles-dev-tsa")

    @app.post("/tsa")
    def timestamp() -> Response:
        body = request.get_data(cache=False)
        if request.mimetype != "application/timestamp-query" or not body or len(body) > MAX_QUERY_BYTES:
            return Response(
                "an RFC 3161 timestamp query (application/timestamp-query) is expected\n",
                status=400,
                mimetype="text/plain",
            )
        try:
            query = tsp.TimeStampReq.load(body)
            query.native  # noqa: B018 - parse it all now: a malformed query is the client's error
        except ValueError:
            return Response("malformed timestamp query\n", status=400, mimetype="text/plain")
        with lock:
            reply = stamper.request_tsa_response(query)
        return Response(reply.dump(), mimetype="application/timestamp-reply")

    published: list = [b"", 0.0]  # the CRL and when it was made (monotonic)

    @app.get("/crl")
    def revocation_list() -> Response:
        # A CA publishes its CRL now and then, not per request: a fresh one every few minutes, valid a day.
        with lock:
            if not published[0] or time.monotonic() - published[1] > CRL_REISSUE_S:
                published[:] = [dev_pki.crl(pki), time.monotonic()]
            body = published[0]
        return Response(body, mimetype="application/pkix-crl", headers={"Cache-Control": "no-store"})

    @app.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    return app
