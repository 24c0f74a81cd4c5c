"""The console without a browser: sign-in with PKCE against the development issuer (both in this
process), CSRF, the proxy, and every page rendered from what the services answer."""
from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from werkzeug.serving import make_server

from services.console import backend, bootstrap, oidc
from services.console.pages import attachments_in
from services.console.pages_office import bars
from shared.identity import dev_issuer


@pytest.fixture
def issuer(tmp_path, monkeypatch):
    """The development issuer on a real port (the console reads its discovery over HTTP)."""
    server = make_server("127.0.0.1", 0, dev_issuer.create_app(tmp_path / "issuer"), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    server.app.config["OIDC_ISSUER"] = url
    monkeypatch.setenv("OIDC_ISSUER", url)
    monkeypatch.setenv("PROFILE_URL", "http://127.0.0.1:9")  # no directory: demo users only
    oidc._discovered.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    thread.join()


@pytest.fixture
def console(tmp_path, monkeypatch):
    monkeypatch.setenv("TITLES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CONSOLE_OIDC_AUTHORIZE_URL", raising=False)
    app = bootstrap.create_app()
    return app.test_client()


def sign_in_as(console, username: str, issuer_url: str) -> None:
    """The whole authorization code flow: console -> issuer's page -> code -> console."""
    import requests

    started = console.get("/login?next=/tasks")
    assert started.status_code == 302
    authorize = urlparse(started.location)
    query = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == issuer_url + "/authorize"
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    page = requests.get(started.location, timeout=5)
    assert page.status_code == 200 and f'data-username="{username}"' in page.text
    form = {k: v[0] for k, v in query.items()} | {"username": username}
    answer = requests.post(issuer_url + "/authorize", data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = urlparse(answer.headers["Location"])
    assert back.path == "/callback" and parse_qs(back.query)["state"] == query["state"]
    done = console.get(f"{back.path}?{back.query}")
    assert done.status_code == 302 and done.location == "/tasks", done.get_data(as_text=True)


def test_sign_in_with_pkce_keeps_the_users_token_in_the_session(console, issuer):
    sign_in_as(console, "unit", issuer)
    with console.session_transaction() as session:
        user = session["user"]
    assert (user["subject"], user["role"], user["org"], user["name"]) == ("unit", "unit", "91120101MA05K1XT13", "王芳")
    assert user["expires_at"] > time.time() + 3600


def test_a_callback_without_its_sign_in_or_with_another_state_is_refused(console, issuer):
    assert console.get("/callback?code=x&state=y").status_code == 400
    console.get("/login")
    assert console.get("/callback?code=x&state=forged").status_code == 400


def test_a_code_is_redeemed_once_and_only_with_its_verifier(tmp_path):
    client = dev_issuer.create_app(tmp_path, issuer="http://issuer.test", profile_url="http://127.0.0.1:9").test_client()
    verifier, challenge = oidc.pkce_pair()
    auth = {"response_type": "code", "client_id": "c", "redirect_uri": "http://app.test/cb", "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256", "nonce": "n"}
    code = parse_qs(urlparse(client.post("/authorize", data=auth | {"username": "committee"}).location).query)["code"][0]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://app.test/cb", "client_id": "c"}
    wrong = client.post("/token", data=exchange | {"code_verifier": oidc.pkce_pair()[0]})
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant"
    ok = client.post("/token", data=exchange | {"code_verifier": verifier})
    assert ok.status_code == 200 and {"access_token", "id_token"} <= set(ok.get_json())
    again = client.post("/token", data=exchange | {"code_verifier": verifier})
    assert again.get_json()["error_description"] == "the code was already used"
    without_pkce = client.get("/authorize", query_string={k: v for k, v in auth.items() if k != "code_challenge"})
    assert without_pkce.status_code == 302 and "error=invalid_request" in without_pkce.location


def test_a_new_applicant_registers_with_a_valid_id_number_and_signs_in(tmp_path):
    client = dev_issuer.create_app(tmp_path, issuer="http://issuer.test", profile_url="http://127.0.0.1:9").test_client()
    _, challenge = oidc.pkce_pair()
    auth = {"response_type": "code", "client_id": "c", "redirect_uri": "http://app.test/cb", "code_challenge": challenge,
            "code_challenge_method": "S256", "register": "1"}
    bad = client.post("/authorize", data=auth | {"new_username": "wangwu", "name": "王五", "id_number": "120101198806120031"})
    assert bad.status_code == 422 and "check_digit" in bad.get_data(as_text=True)
    taken = client.post("/authorize", data=auth | {"new_username": "wangwu", "name": "王五",
                                                   "id_number": "120101198806120032"})  # 张伟's
    assert taken.status_code == 422 and "unique" in taken.get_data(as_text=True)
    good = client.post("/authorize", data=auth | {"new_username": "wangwu", "name": "王五",
                                                  "id_number": "120104198505200011"})
    assert good.status_code == 302 and "code=" in good.location
    token = client.post("/token", json={"username": "wangwu"}).get_json()["access_token"]
    claims = __import__("jwt").decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["name"], claims["id_number"]) == (
        "wangwu", "applicant", "王五", "120104198505200011")
    assert "wangwu" in client.get("/authorize", query_string=auth).get_data(as_text=True)


def test_directory_staff_sign_in_with_the_directorys_organisation_and_role(tmp_path, monkeypatch):
    calls = []

    def staff(self, subject):
        calls.append(subject)
        return {"username": subject, "name": "马超", "role": "unit", "org": "12120103MB0098760T"} \
            if subject == "inst_unit" else None

    monkeypatch.setattr("shared.identity.dev_accounts.Directory.staff", staff)
    client = dev_issuer.create_app(tmp_path, issuer="http://issuer.test").test_client()
    token = client.post("/token", json={"username": "inst_unit"}).get_json()["access_token"]
    claims = __import__("jwt").decode(token, options={"verify_signature": False})
    assert (claims["role"], claims["org"], claims["name"]) == ("unit", "12120103MB0098760T", "马超")
    assert client.post("/token", json={"username": "nobody"}).status_code == 400
    assert calls == ["inst_unit", "nobody"]


# -- pages, from what the services answer ------------------------------------------------------

TASK = {"id": "t1", "declaration_id": "d1", "stage": "unit_publicity", "name": "Unit publicity (单位公示)",
        "role": "unit", "organisation": "91120101MA05K1XT13", "decisions": ["approve", "return"], "status": "claimed",
        "claimed_by": "unit", "summary": {}, "created_at": "2026-01-01T00:00:00", "completed_at": None,
        "completed_by": None, "decision": None, "reason": None}
ANSWERS: dict[str, Any] = {
    "/api/v1/tasks/t1/context": {"task": TASK, "declaration": {"name": "张伟", "items": [
        {"item_type": "paper", "attachments": [{"id": "f1", "name": "论文.pdf"}]}]}, "trail": [
        {"stage": "unit_check", "name": "Unit check", "organisation": "X", "actor": "unit", "decision": "approve",
         "reason": None, "at": "2026-01-02T00:00:00"}]},
    "/api/v1/declarations/d1/publicities": [{"id": 5, "kind": "unit", "starts_on": "2026-01-03", "ends_on": "2026-01-09",
                                             "working_days": 5, "status": "running", "objections": [
                                                 {"id": 9, "content": "举报内容", "status": "open"}]}],
    "/api/v1/tasks": {"items": [dict(TASK, applicant_name="张伟", overdue=False)], "total": 1, "page": 1, "per_page": 20},
    "/api/v1/processes": {"items": [{"declaration_id": "d1", "process_id": "social_review", "status": "running",
                                     "stage": "unit_check", "suspended": False, "has_incident": True,
                                     "updated_at": "2026-01-01T00:00:00"}], "total": 1, "page": 1, "per_page": 20},
    "/api/v1/processes/d1/view": {"process_id": "social_review", "status": "running", "definition_id": "abc" * 10,
                                  "suspended": False, "has_incident": False, "held_messages": 0, "held": [],
                                  "bpmn": "<xml/>", "active": ["unit_check"], "completed": [], "called": [],
                                  "history": [], "timers": [{"element": "publicity_over", "due_at": "2026-02-01T00:00:00"}]},
    "/api/v1/incidents": {"items": [{"id": 3, "declaration_id": "d1", "source": "task", "element": "unit_check",
                                     "error": "boom", "status": "open", "attempts": 1}], "total": 1, "page": 1,
                          "per_page": 20},
    "/api/v1/definitions/versions": [{"label": "social_review@1", "file_name": "social_review.bpmn", "id": "a" * 64,
                                      "running_instances": 1, "calls": ["return_and_resubmit@1"],
                                      "deployed_at": "2026-01-01T00:00:00"}],
    "/api/v1/statistics": {"scope": "all", "declarations": 3, "by_stage": {"unit_check": 2, "committee_acceptance": 1},
                           "by_mode": {"social_review": 3}, "time_in_stage": {"unit_check": {"median_hours": 5.5}}},
    "/api/v1/certificates": [{"number": "TJZC2026000001", "qualification_name": "高级工程师", "series": "工程",
                              "level": "副高级", "specialty": "软件工程", "committee_name": "评委会",
                              "issued_on": "2026-03-01", "status": "issued"}],
    "/api/v1/messages": {"items": [{"id": "m1", "title": "证书已签发", "body": "...", "created_at": "2026-03-01T00:00:00",
                                    "read_at": None}], "total": 1, "unread": 1, "page": 1, "per_page": 20},
}


@pytest.fixture
def answered(monkeypatch):
    sent: list[tuple[str, str, str, Any]] = []

    def call(self, method, service, path, params=None, json=None):
        sent.append((method, service, path, json))
        if method != "GET":
            return {}
        if path in ANSWERS:
            return ANSWERS[path]
        if path.endswith("/staff"):
            return {"items": [{"subject": "unit", "name": "王芳", "role": "unit"},
                              {"subject": "unit_b", "name": "李四", "role": "unit"}]}
        raise backend.ApiError(404, {"detail": "not here"}, path)

    monkeypatch.setattr(backend.Backend, "call", call)
    return sent


def signed_in(console, role: str, subject: str | None = None) -> None:
    with console.session_transaction() as session:
        session["user"] = {"token": "t", "subject": subject or role, "role": role, "name": "某人",
                           "org": "91120101MA05K1XT13", "expires_at": time.time() + 3600}
        session["csrf"] = "k"


@pytest.mark.parametrize("role, path, expected", [
    ("unit", "/tasks", "Unit publicity"),
    ("unit", "/tasks/t1", "论文.pdf"),
    ("unit", "/tasks/t1", "登记异议"),
    ("designer", "/processes", "social_review") ,
    ("designer", "/processes/d1", "2026-02-01 00:00"),  # the waiting timer's due time
    ("designer", "/incidents", "boom"),
    ("designer", "/versions", "return_and_resubmit@1"),
    ("title_office", "/statistics", "<rect"),
    ("applicant", "/my/certificates", "/api/certificate/api/v1/certificates/TJZC2026000001/pdf"),
    ("applicant", "/my/messages", "证书已签发"),
    ("applicant", "/docs/review", "/api/review/openapi.json"),
])
def test_pages_show_what_the_services_answer(console, answered, role, path, expected):
    signed_in(console, role)
    response = console.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[-800:]
    assert expected in response.get_data(as_text=True)


def test_a_page_for_other_roles_is_refused_and_a_stranger_is_sent_to_sign_in(console, answered):
    assert console.get("/tasks").location.startswith("/login?next=")
    signed_in(console, "applicant")
    assert console.get("/incidents").status_code == 403


def test_forms_need_the_sessions_csrf_token_and_go_to_the_api(console, answered):
    signed_in(console, "unit")
    refused = console.post("/tasks/t1/complete", data={"decision": "approve"})
    assert refused.status_code == 400 and not [s for s in answered if s[0] == "POST"]
    done = console.post("/tasks/t1/complete", data={"decision": "return", "reason": "缺材料", "csrf_token": "k"})
    assert done.status_code == 302 and done.location == "/tasks"
    assert answered[-1] == ("POST", "review", "/api/v1/tasks/t1/complete", {"decision": "return", "reason": "缺材料"})
    console.post("/objections/9/resolve", data={"upheld": "false", "resolution": "不成立", "csrf_token": "k"})
    assert answered[-1] == ("POST", "review", "/api/v1/objections/9/resolve", {"upheld": False, "resolution": "不成立"})


def test_a_refusal_is_shown_with_the_services_reason(console, monkeypatch):
    def refuse(self, method, service, path, params=None, json=None):
        raise backend.ApiError(422, {"detail": "reason required", "errors": [
            {"field": "reason", "rule": "required", "message": "a return needs a reason"}]}, path)

    monkeypatch.setattr(backend.Backend, "call", refuse)
    signed_in(console, "unit")
    console.post("/tasks/t1/complete", data={"decision": "return", "csrf_token": "k"})
    with console.session_transaction() as session:
        [(category, message)] = session["_flashes"]
    assert category == "error" and "reason: a return needs a reason" in message


def test_the_proxy_forwards_only_to_the_services_and_only_changes_with_the_csrf_token(console):
    signed_in(console, "unit")
    assert console.get("/api/nowhere/x").status_code == 404
    assert console.post("/api/review/api/v1/tasks/t1/claim").status_code == 400


def test_attachments_are_found_wherever_the_declaration_refers_to_them():
    content = {"snapshot": {"photo_id": "p", "qualification": {"appointment": {"proof_ids": ["a", "b"]}}},
               "items": [{"attachments": [{"id": "x", "name": "论文.pdf"}, {"id": "p", "name": "dup"}]}]}
    assert [(f["id"], f["name"]) for f in attachments_in(content)] == [
        ("p", "photo_id"), ("a", "proof"), ("b", "proof"), ("x", "论文.pdf")]


def test_bar_charts_scale_to_the_largest_value():
    chart = bars("t", {"a": 10, "b": 5, "c": 0})
    assert [(r["label"], r["width"]) for r in chart["rows"]] == [("a", 300), ("b", 150), ("c", 0)]
