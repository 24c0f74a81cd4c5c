"""Every service's operational surface: health, readiness, OpenAPI, metrics, problems."""

from __future__ import annotations

import pytest

SERVICES = ("profile", "declaration", "review", "certificate", "notify")


@pytest.mark.parametrize("service", SERVICES)
def test_health_and_ready(clients, service):
    assert clients[service].get("/health").get_json() == {"status": "ok", "service": service}
    ready = clients[service].get("/ready")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.parametrize("service", SERVICES)
def test_ready_reports_a_broker_that_does_not_answer(dbs, verifier, service):
    from shared.web.app import create_service_app

    def broken_broker() -> None:
        raise ConnectionRefusedError("broker down")

    app = create_service_app(
        service, dbs[service], [], title="t", description="d", verifier=verifier, broker_check=broken_broker
    )
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 503
    assert [e["field"] for e in body["errors"]] == ["broker"]


def test_a_passed_check_answers_the_probes_of_the_next_second_and_a_failure_is_checked_again(
    dbs, verifier, monkeypatch
):
    from shared.web import app as web_app

    checks: list[str] = []
    broker = {"down": False}

    def broker_check() -> None:
        checks.append("broker")
        if broker["down"]:
            raise ConnectionRefusedError("broker down")

    app = web_app.create_service_app(
        "review", dbs["review"], [], title="t", description="d", verifier=verifier, broker_check=broker_check
    )
    client = app.test_client()
    assert client.get("/ready").status_code == 200
    assert client.get("/ready").status_code == 200
    assert checks == ["broker"]  # the second probe answered by the first one's check
    monkeypatch.setattr(web_app, "READY_FRESH_S", 0.0)  # the second is over
    broker["down"] = True
    assert client.get("/ready").status_code == 503 and len(checks) == 2
    monkeypatch.setattr(web_app, "READY_FRESH_S", 60.0)
    assert client.get("/ready").status_code == 503 and len(checks) == 3  # a failure is never reused
    broker["down"] = False
    assert client.get("/ready").status_code == 200 and len(checks) == 4
    assert client.get("/ready").status_code == 200 and len(checks) == 4


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document(clients, service):
    spec = clients[service].get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/health" in spec["paths"] and "/ready" in spec["paths"]
    assert any(path.startswith("/api/v1/") for path in spec["paths"]), spec["paths"].keys()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_count_requests_and_report_the_outbox_backlog(clients, service):
    clients[service].get("/health")
    text = clients[service].get("/metrics").get_data(as_text=True)
    assert f'titles_http_requests_total{{endpoint="/health",method="GET",service="{service}",status="200"}}' in text
    assert f'titles_outbox_backlog{{service="{service}"}} 0.0' in text


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_count_the_cpu_each_request_took_by_its_endpoint(clients, service):
    import re

    def spent() -> float:
        text = clients[service].get("/metrics").get_data(as_text=True)
        line = rf'^titles_cpu_seconds_total{{kind="http",name="GET /health",service="{service}"}} (\S+)$'
        found = re.search(line, text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    before = spent()
    for _ in range(20):
        clients[service].get("/health")
    assert spent() > before


def test_metrics_say_how_long_each_sqlite_database_held_its_write_lock(clients, dbs):
    """The embedded default's capacity: the share of time a file's one write lock is held (rate of the held
    seconds) and the time writers waited for it."""
    import re
    from pathlib import Path

    db = dbs["review"]
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's (PostgreSQL locks rows)")
    database = Path(db.engine.url.database).stem

    def figures() -> dict[str, float]:
        text = clients["review"].get("/metrics").get_data(as_text=True)
        found = re.findall(rf'^(titles_sqlite_write_\w+)_total{{database="{database}"}} (\S+)$', text, re.MULTILINE)
        return {name: float(value) for name, value in found}

    before = figures()
    with db.uow() as uow:
        uow.session.connection()  # BEGIN IMMEDIATE: the lock taken
        uow.commit()
    after = figures()
    assert after["titles_sqlite_write_transactions"] == before.get("titles_sqlite_write_transactions", 0) + 1
    assert after["titles_sqlite_write_lock_held_seconds"] > before.get("titles_sqlite_write_lock_held_seconds", 0)
    assert "titles_sqlite_write_lock_wait_seconds" in after


@pytest.mark.parametrize("service", SERVICES)
def test_errors_are_problem_details(clients, service):
    missing = clients[service].get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    assert missing.get_json()["status"] == 404 and missing.get_json()["title"] == "Not Found"


@pytest.mark.parametrize("path", ["/api/v1/profile", "/api/v1/organisations"])
def test_a_request_without_a_token_is_refused_with_a_problem(clients, path):
    response = clients["profile"].get(path)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_role_is_forbidden_with_a_problem(clients, auth):
    response = clients["declaration"].get("/api/v1/declarations", headers=auth("unit"))
    assert response.status_code == 403
    assert "role 'unit'" in response.get_json()["detail"]


def test_invalid_input_names_the_field_and_the_rule(clients, auth):
    response = clients["profile"].post(
        "/api/v1/profile/work-experiences",
        headers=auth("applicant"),
        json={"status": "retired", "start_date": "not a date"},
    )
    assert response.status_code == 422
    body = response.get_json()
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"status", "start_date"}
    assert fields["status"]["in"] == "json"
    assert all(e["rule"] for e in body["errors"])


def test_correlation_id_is_echoed(clients):
    response = clients["notify"].get("/health", headers={"X-Correlation-ID": "decl-123"})
    assert response.headers["X-Correlation-ID"] == "decl-123"
