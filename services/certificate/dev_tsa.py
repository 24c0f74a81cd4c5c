"""Development trust services: an RFC 3161 timestamp authority and the development CA's CRL.

``titles run`` starts it (process ``tsa``, port ``TSA_PORT``, 8007) and the
tests start it on a thread. The timestamps are made by pyHanko's own test TSA
(``DummyTimeStamper``) with the development PKI's TSA certificate; the CRL is
signed afresh on every request and revokes nothing. Never for production:
there ``CERTIFICATE_TSA_URL`` names a real timestamp authority and the signing
certificate's CA publishes its own revocation data.

    POST /tsa     application/timestamp-query -> application/timestamp-reply
    GET  /crl     the development CA's CRL (DER)
    GET  /health
"""

from __future__ import annotations

import threading

from flask import Flask, Response, jsonify, request

from services.certificate import dev_pki

MAX_QUERY_BYTES = 16 * 1024


def _stamper(pki: dev_pki.DevPki):  # noqa: ANN202 - pyhanko's DummyTimeStamper
    from asn1crypto import keys
    from cryptography.hazmat.primitives import serialization
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = serialization.load_pem_private_key(pki.tsa_key.read_bytes(), password=None)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return DummyTimeStamper(
        tsa_cert=load_cert_from_pemder(str(pki.tsa_cert)),
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

    @app.get("/crl")
    def revocation_list() -> Response:
        return Response(dev_pki.crl(pki), mimetype="application/pkix-crl", headers={"Cache-Control": "no-store"})

    @app.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    return app
