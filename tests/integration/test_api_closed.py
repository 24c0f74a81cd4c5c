"""Every operation of every service's API refuses an anonymous caller, unless it is declared public.

A new view is closed without anyone writing so: this lists every rule of every app, so an
endpoint made public by mistake, or one left open, shows here."""

from __future__ import annotations

from typing import Any

from shared.web.views import handler_of, is_public

# What anyone may call without a token: public verification of a certificate and the key that
# anchors its signature, and reports (举报) from the public with their answers.
PUBLIC = {
    "certificate GET /api/v1/verify",
    "certificate GET /api/v1/signing-certificate",
    "notify POST /api/v1/reports",
    "notify GET /api/v1/reports/<reference>",
}


def _example(converter: Any) -> str:
    return "1" if type(converter).__name__ == "IntegerConverter" else "x"


def test_every_api_operation_needs_a_token_unless_declared_public(apps):
    public, refused = set(), 0
    for service, app in apps.items():
        client = app.test_client()
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/api/v1/"):
                continue
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                name = f"{service} {method} {rule.rule}"
                if is_public(handler_of(app, rule.endpoint, method)):
                    public.add(name)
                    continue
                _, path = rule.build({arg: _example(rule._converters[arg]) for arg in rule.arguments})
                response = client.open(path, method=method, json={"anything": 1})
                assert response.status_code == 401, (name, response.status_code, response.get_data(as_text=True))
                assert response.mimetype == "application/problem+json", name
                assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
                refused += 1
    assert public == PUBLIC
    assert refused > 100  # every service's API was reached


def test_a_bad_token_is_refused_before_the_body_is_read(apps):
    client = apps["declaration"].test_client()
    response = client.post("/api/v1/declarations", json={"level": 3}, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_public_operation_answers_without_a_token(apps):
    response = apps["certificate"].test_client().get("/api/v1/signing-certificate")
    assert response.status_code == 200
    assert response.mimetype == "application/x-pem-file"
