"""The edges of every service: input that used to answer 5xx now gets a 4xx problem naming the field
and the rule; a database that went away is a 503 a client may retry; probes never queue for a lock."""

from __future__ import annotations

import io
import json
import os
import threading

import pytest
from sqlalchemy import text

from tests.integration.test_declaration import assert_problem

HUGE_PAGE = "9223372036854775807"


@pytest.mark.parametrize(
    "service, path, user",
    [
        ("notify", "/api/v1/messages", "applicant"),
        ("review", "/api/v1/tasks", "unit"),
        ("review", "/api/v1/tasks/overdue", "unit"),
        ("profile", "/api/v1/profile/attachments", "applicant"),
        ("profile", "/api/v1/organisations", "title_office"),
    ],
)
def test_a_page_number_beyond_any_list_is_refused_naming_the_field(clients, auth, demo, service, path, user):
    response = clients[service].get(f"{path}?page={HUGE_PAGE}", headers=auth(user))
    body = assert_problem(response, 422, "page")
    assert body["errors"][0]["in"] == "query"
    assert clients[service].get(f"{path}?page=1000000", headers=auth(user)).status_code == 200


def test_an_id_beyond_64_bits_in_a_path_is_refused_not_a_server_error(clients, auth, demo):
    response = clients["review"].post(
        f"/api/v1/objections/{HUGE_PAGE}9/resolve", headers=auth("unit"), json={"upheld": False, "resolution": "x"}
    )
    assert 400 <= response.status_code < 500, response.get_json()


@pytest.mark.parametrize("value", ["a\u0000b", "a\u0007b", "a\u001bb", "a\u007fb"])
def test_text_with_a_control_character_is_refused_on_every_backend(clients, auth, demo, value):
    response = clients["profile"].post(
        "/api/v1/profile/social-posts",
        headers=auth("applicant"),
        json={"organisation": value, "post": "理事", "start_date": "2020-01-01"},
    )
    body = assert_problem(response, 422, "organisation", "no_control_characters")
    assert "控制字符" in body["errors"][0]["message"]
    nested = clients["declaration"].post(
        "/api/v1/declarations", headers=auth("applicant"), json={"items": [{"fields": {"title": value}}]}
    )
    assert_problem(nested, 422, "items.0.fields.title", "no_control_characters")


def test_tabs_and_line_breaks_stay_allowed_in_text(clients, auth, demo):
    response = clients["profile"].post(
        "/api/v1/profile/social-posts",
        headers=auth("applicant"),
        json={"organisation": "天津市\t计算机学会\r\n", "post": "理事", "start_date": "2020-01-01"},
    )
    assert response.status_code == 201, response.get_json()


def test_a_control_character_in_the_query_is_refused(clients, auth, demo):
    response = clients["review"].get("/api/v1/tasks?applicant=a%00b", headers=auth("unit"))
    assert_problem(response, 422, "applicant", "no_control_characters")


def test_json_nested_beyond_the_bound_is_refused_before_it_is_parsed(clients, auth, demo):
    deep = "[" * 100_000 + "]" * 100_000
    response = clients["notify"].post("/api/v1/reports", data=deep, content_type="application/json")
    assert_problem(response, 422, "body", "max_nesting")
    # Brackets inside strings are text, not nesting.
    fine = json.dumps({"declaration_id": "x", "content": "[" * 1000})
    assert clients["notify"].post("/api/v1/reports", data=fine, content_type="application/json").status_code != 500


class CountingStream(io.BytesIO):
    def __init__(self, size: int):
        super().__init__()
        self.size, self.read_bytes = size, 0

    def read(self, n: int = -1) -> bytes:
        chunk = b" " * (self.size - self.read_bytes if n < 0 else min(n, self.size - self.read_bytes))
        self.read_bytes += len(chunk)
        return chunk


def test_a_body_over_the_limit_is_refused_before_it_is_read(clients, demo):
    stream = CountingStream(60 * 1024 * 1024)
    response = clients["notify"].post(
        "/api/v1/reports",
        input_stream=stream,
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(stream.size)},
    )
    assert_problem(response, 413, "body", "max_bytes")
    assert stream.read_bytes == 0


def test_an_upload_has_its_own_larger_limit(clients, auth, demo):
    from services.profile.attachments import max_bytes

    big = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)  # over the request limit, under the upload limit
    assert len(big) < max_bytes()
    response = clients["profile"].post(
        "/api/v1/profile/attachments",
        headers=auth("applicant"),
        data={"file": (io.BytesIO(big), "big.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code != 413, response.get_json()


def test_a_duplicate_unique_value_is_a_conflict_naming_the_field(clients, auth, demo):
    series = clients["declaration"].get("/api/v1/catalogue", headers=auth("title_office")).get_json()["series"]
    taken = next(s["code"] for s in series if s.get("code"))
    response = clients["declaration"].put(
        "/api/v1/catalogue/series/全新系列",
        headers=auth("title_office"),
        json={
            "code": taken,
            "specialties": ["甲"],
            "appointable": [],
            "levels": [{"level": "中级", "qualification_names": ["甲师"]}],
        },
    )
    assert_problem(response, 409, "code", "unique")


def test_a_database_that_went_away_answers_503_with_retry_after(tmp_path, verifier, dbs, auth):
    from shared.uow import Database
    from titles import bootstrap

    notify = bootstrap.service("notify")
    if os.environ.get("TEST_POSTGRES_URL"):
        url = "postgresql+psycopg://postgres@127.0.0.1:1/gone?connect_timeout=2"
    else:
        (tmp_path / "notify.db").mkdir()  # a folder where the database file should be: it cannot open
        url = f"sqlite:///{tmp_path / 'notify.db'}"
    gone = Database("notify", url, dbs["notify"].metadata, dbs["notify"].outbox_model, dbs["notify"].inbox_model)
    client = notify.create_app(gone, verifier).test_client()
    response = client.get("/api/v1/messages", headers=auth("applicant"))
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"].isdigit()
    assert response.mimetype == "application/problem+json"
    assert client.get("/health").status_code == 200
    gone.dispose()


def test_probes_answer_while_another_transaction_holds_the_write_lock(clients, dbs):
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with dbs["review"].engine.connect() as conn:  # BEGIN IMMEDIATE on SQLite: the write lock
            conn.execute(text("SELECT 1"))
            if conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE instances IN ACCESS EXCLUSIVE MODE"))
            held.set()
            release.wait(20)
            conn.rollback()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10)
        ready = clients["review"].get("/ready")
        assert ready.status_code == 200, ready.get_json()
        assert ready.get_json()["checks"]["database"] == "ok"
        assert clients["review"].get("/health").status_code == 200
    finally:
        release.set()
        thread.join()


def test_who_asks_comes_before_what_they_send(clients, demo):
    response = clients["declaration"].post("/api/v1/activities", json={"name": ""})  # no token, bad body
    assert response.status_code == 401, response.get_json()


def test_a_request_that_needs_a_body_and_sends_none_is_refused(clients, auth, demo):
    response = clients["notify"].put("/api/v1/contact", headers=auth("applicant"))
    assert_problem(response, 422, "body", "required")


@pytest.mark.parametrize("service", ["profile", "declaration", "review", "certificate", "notify"])
def test_the_openapi_documents_problem_details_and_what_text_may_hold(clients, service):
    spec = clients[service].get("/openapi.json").get_json()
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default["content"]) == ["application/problem+json"]
    problem = spec["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem)
    assert spec["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]
    health = clients[service].get("/health").get_json()
    assert set(health) <= set(spec["components"]["schemas"]["HealthOut"]["properties"])
    patterns = {
        p.get("pattern")
        for name, s in spec["components"]["schemas"].items()
        if name not in ("Problem", "FieldProblem")  # an error echoes what it must
        for p in s.get("properties", {}).values()
        if p.get("type") == "string" and not p.get("format")
    }
    assert patterns == {r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"}


@pytest.mark.parametrize("service", ["profile", "declaration", "review", "certificate", "notify"])
def test_a_fixed_path_allows_only_its_own_methods(clients, service):
    """``/activities/mine`` is not also ``/activities/<activity_id>``: OPTIONS (the Allow header) and
    a method only the parameter route has answer for the fixed path alone, on every service."""
    app = clients[service].application
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.arguments or rule.endpoint == "static":
            continue
        allowed = set(adapter.allowed_methods(rule.rule))
        own = set().union(*(r.methods for r in app.url_map.iter_rules() if r.rule == rule.rule))
        assert allowed == own | {"OPTIONS"}, rule.rule


def test_an_upload_takes_the_file_and_nothing_beside_it(clients, auth, demo):
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU\x00\x00"
        b"\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    response = clients["profile"].post(
        "/api/v1/profile/attachments",
        headers=auth("applicant"),
        data={"file": (io.BytesIO(png), "a.png"), "note": "42"},
        content_type="multipart/form-data",
    )
    assert_problem(response, 422, "note", "unknown_field")
    fine = clients["profile"].post(
        "/api/v1/profile/attachments",
        headers=auth("applicant"),
        data={"file": (io.BytesIO(png), "a.png")},
        content_type="multipart/form-data",
    )
    assert fine.status_code == 201, fine.get_json()


def test_the_word_of_a_fixed_path_reaches_only_that_path(clients, auth, demo):
    allow = clients["declaration"].options("/api/v1/activities/mine").headers["Allow"]
    assert set(allow.split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert clients["declaration"].put("/api/v1/activities/mine", headers=auth("committee"), json={}).status_code == 405
    assert (
        clients["declaration"].delete("/api/v1/declarations/at-my-organisation", headers=auth("applicant")).status_code
        == 405
    )


def test_the_verification_page_documents_every_answer_as_the_page(clients):
    """A person reads /verify: what it answers (found, not found, too many tries) is HTML, and the
    OpenAPI says so, so a client is not told to expect problem details there."""
    spec = clients["certificate"].get("/openapi.json").get_json()
    for method in ("get", "post"):
        responses = spec["paths"]["/verify"][method]["responses"]
        assert {status: list(responses[status]["content"]) for status in ("200", "404", "429")} == {
            "200": ["text/html"],
            "404": ["text/html"],
            "429": ["text/html"],
        }, method
