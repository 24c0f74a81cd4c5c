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
    client = dev_issuer.create_app(
        tmp_path, issuer="http://issuer.test", profile_url="http://127.0.0.1:9"
    ).test_client()
    verifier, challenge = oidc.pkce_pair()
    auth = {
        "response_type": "code",
        "client_id": "c",
        "redirect_uri": "http://app.test/cb",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": "n",
    }
    code = parse_qs(urlparse(client.post("/authorize", data=auth | {"username": "committee"}).location).query)["code"][
        0
    ]
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://app.test/cb",
        "client_id": "c",
    }
    wrong = client.post("/token", data=exchange | {"code_verifier": oidc.pkce_pair()[0]})
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant"
    ok = client.post("/token", data=exchange | {"code_verifier": verifier})
    assert ok.status_code == 200 and {"access_token", "id_token"} <= set(ok.get_json())
    again = client.post("/token", data=exchange | {"code_verifier": verifier})
    assert again.get_json()["error_description"] == "the code was already used"
    without_pkce = client.get("/authorize", query_string={k: v for k, v in auth.items() if k != "code_challenge"})
    assert without_pkce.status_code == 302 and "error=invalid_request" in without_pkce.location


def test_a_new_applicant_registers_with_a_valid_id_number_and_signs_in(tmp_path):
    client = dev_issuer.create_app(
        tmp_path, issuer="http://issuer.test", profile_url="http://127.0.0.1:9"
    ).test_client()
    _, challenge = oidc.pkce_pair()
    auth = {
        "response_type": "code",
        "client_id": "c",
        "redirect_uri": "http://app.test/cb",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "register": "1",
    }
    bad = client.post(
        "/authorize", data=auth | {"new_username": "wangwu", "name": "王五", "id_number": "120101198806120031"}
    )
    assert bad.status_code == 422 and "check_digit" in bad.get_data(as_text=True)
    taken = client.post(
        "/authorize", data=auth | {"new_username": "wangwu", "name": "王五", "id_number": "120101198806120032"}
    )  # 张伟's
    assert taken.status_code == 422 and "unique" in taken.get_data(as_text=True)
    good = client.post(
        "/authorize", data=auth | {"new_username": "wangwu", "name": "王五", "id_number": "120104198505200011"}
    )
    assert good.status_code == 302 and "code=" in good.location
    token = client.post("/token", json={"username": "wangwu"}).get_json()["access_token"]
    claims = __import__("jwt").decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["name"], claims["id_number"]) == (
        "wangwu",
        "applicant",
        "王五",
        "120104198505200011",
    )
    assert "wangwu" in client.get("/authorize", query_string=auth).get_data(as_text=True)


def test_directory_staff_sign_in_with_the_directorys_organisation_and_role(tmp_path, monkeypatch):
    calls = []

    def staff(self, subject):
        calls.append(subject)
        return (
            {"username": subject, "name": "马超", "role": "unit", "org": "12120103MB0098760T"}
            if subject == "inst_unit"
            else None
        )

    monkeypatch.setattr("shared.identity.dev_accounts.Directory.staff", staff)
    client = dev_issuer.create_app(tmp_path, issuer="http://issuer.test").test_client()
    token = client.post("/token", json={"username": "inst_unit"}).get_json()["access_token"]
    claims = __import__("jwt").decode(token, options={"verify_signature": False})
    assert (claims["role"], claims["org"], claims["name"]) == ("unit", "12120103MB0098760T", "马超")
    assert client.post("/token", json={"username": "nobody"}).status_code == 400
    assert calls == ["inst_unit", "nobody"]


# -- pages, from what the services answer ------------------------------------------------------

TASK = {
    "id": "t1",
    "declaration_id": "d1",
    "stage": "unit_publicity",
    "name": "Unit publicity (单位公示)",
    "role": "unit",
    "organisation": "91120101MA05K1XT13",
    "decisions": ["approve", "return"],
    "status": "claimed",
    "claimed_by": "unit",
    "summary": {},
    "created_at": "2026-01-01T00:00:00",
    "completed_at": None,
    "completed_by": None,
    "decision": None,
    "reason": None,
}
ANSWERS: dict[str, Any] = {
    "/api/v1/tasks/t1/context": {
        "task": TASK,
        "declaration": {
            "name": "张伟",
            "warnings": ["当前专业与申报专业不相关"],
            "items": [{"item_type": "paper", "attachments": [{"id": "f1", "name": "论文.pdf"}]}],
        },
        "trail": [
            {
                "stage": "unit_check",
                "name": "Unit check",
                "organisation": "X",
                "actor": "unit",
                "decision": "approve",
                "reason": None,
                "at": "2026-01-02T00:00:00",
            }
        ],
    },
    "/api/v1/declarations/d1/publicities": [
        {
            "id": 5,
            "kind": "unit",
            "starts_on": "2026-01-03",
            "ends_on": "2026-01-09",
            "working_days": 5,
            "status": "running",
            "objections": [{"id": 9, "content": "举报内容", "status": "open"}],
        }
    ],
    "/api/v1/tasks": {
        "items": [dict(TASK, applicant_name="张伟", overdue=False)],
        "total": 1,
        "page": 1,
        "per_page": 20,
    },
    "/api/v1/processes": {
        "items": [
            {
                "declaration_id": "d1",
                "process_id": "social_review",
                "status": "running",
                "stage": "unit_check",
                "suspended": False,
                "has_incident": True,
                "updated_at": "2026-01-01T00:00:00",
            }
        ],
        "total": 1,
        "page": 1,
        "per_page": 20,
    },
    "/api/v1/processes/d1/view": {
        "process_id": "social_review",
        "status": "running",
        "definition_id": "abc" * 10,
        "suspended": False,
        "has_incident": False,
        "held_messages": 0,
        "held": [],
        "bpmn": "<xml/>",
        "active": ["unit_check"],
        "completed": [],
        "called": [],
        "history": [],
        "timers": [{"element": "publicity_over", "due_at": "2026-02-01T00:00:00"}],
    },
    "/api/v1/incidents": {
        "items": [
            {
                "id": 3,
                "declaration_id": "d1",
                "source": "task",
                "element": "unit_check",
                "error": "boom",
                "status": "open",
                "attempts": 1,
            }
        ],
        "total": 1,
        "page": 1,
        "per_page": 20,
    },
    "/api/v1/definitions/versions": [
        {
            "label": "social_review@1",
            "file_name": "social_review.bpmn",
            "id": "a" * 64,
            "running_instances": 1,
            "calls": ["return_and_resubmit@1"],
            "deployed_at": "2026-01-01T00:00:00",
        }
    ],
    "/api/v1/statistics": {
        "scope": "all",
        "declarations": 3,
        "by_stage": {"unit_check": 2, "committee_acceptance": 1},
        "by_mode": {"social_review": 3},
        "time_in_stage": {"unit_check": {"median_hours": 5.5}},
    },
    "/api/v1/certificates": [
        {
            "number": "TJZC2026000001",
            "qualification_name": "高级工程师",
            "series": "工程",
            "level": "副高级",
            "specialty": "软件工程",
            "committee_name": "评委会",
            "issued_on": "2026-03-01",
            "status": "issued",
        }
    ],
    "/api/v1/messages": {
        "items": [
            {"id": "m1", "title": "证书已签发", "body": "...", "created_at": "2026-03-01T00:00:00", "read_at": None}
        ],
        "total": 1,
        "unread": 1,
        "page": 1,
        "per_page": 20,
    },
}


@pytest.fixture
def answered(monkeypatch):
    sent: list[tuple[str, str, str, Any]] = []

    def call(self, method, service, path, params=None, json=None, files=None):
        sent.append((method, service, path, json if files is None else {"file": files["file"][0]}))
        if files is not None:
            return {"id": f"file-{len(sent)}", "name": files["file"][0]}
        if method != "GET":
            return {"id": "new-d"} if path == "/api/v1/declarations" else {}
        if path in ANSWERS:
            return ANSWERS[path]
        if path.endswith("/staff"):
            return {
                "items": [
                    {"subject": "unit", "name": "王芳", "role": "unit"},
                    {"subject": "unit_b", "name": "李四", "role": "unit"},
                ]
            }
        raise backend.ApiError(404, {"detail": "not here"}, path)

    monkeypatch.setattr(backend.Backend, "call", call)
    return sent


def signed_in(console, role: str, subject: str | None = None) -> None:
    with console.session_transaction() as session:
        session["user"] = {
            "token": "t",
            "subject": subject or role,
            "role": role,
            "name": "某人",
            "org": "91120101MA05K1XT13",
            "expires_at": time.time() + 3600,
        }
        session["csrf"] = "k"


@pytest.mark.parametrize(
    "role, path, expected",
    [
        ("unit", "/tasks", "Unit publicity"),
        ("unit", "/tasks/t1", "论文.pdf"),
        ("unit", "/tasks/t1", "登记异议"),
        (
            "unit",
            "/tasks/t1",
            '<div class="box warn-box" id="warnings"><b>提示 Warnings</b><ul><li>当前专业与申报专业不相关',
        ),
        ("designer", "/processes", "social_review"),
        ("designer", "/processes/d1", "2026-02-01 08:00"),  # the waiting timer's due time, Beijing time
        ("designer", "/incidents", "boom"),
        ("designer", "/versions", "return_and_resubmit@1"),
        ("title_office", "/statistics", "<rect"),
        ("applicant", "/my/certificates", "/api/certificate/api/v1/certificates/TJZC2026000001/pdf"),
        ("applicant", "/my/messages", "证书已签发"),
        ("applicant", "/docs/review", "/api/review/openapi.json"),
    ],
)
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
    def refuse(self, method, service, path, params=None, json=None, files=None):
        raise backend.ApiError(
            422,
            {
                "detail": "reason required",
                "errors": [{"field": "reason", "rule": "required", "message": "a return needs a reason"}],
            },
            path,
        )

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
    content = {
        "snapshot": {"photo_id": "p", "qualification": {"appointment": {"proof_ids": ["a", "b"]}}},
        "items": [{"attachments": [{"id": "x", "name": "论文.pdf"}, {"id": "p", "name": "dup"}]}],
    }
    assert [(f["id"], f["name"]) for f in attachments_in(content)] == [
        ("p", "photo_id"),
        ("a", "proof"),
        ("b", "proof"),
        ("x", "论文.pdf"),
    ]


def test_bar_charts_scale_to_the_largest_value():
    chart = bars("t", {"a": 10, "b": 5, "c": 0})
    assert [(r["label"], r["width"]) for r in chart["rows"]] == [("a", 300), ("b", 150), ("c", 0)]


# -- the applicant fills the profile and the declaration ---------------------------------------------

PROFILE = {
    "subject": "applicant2",
    "name": "李娜",
    "id_number": "120103199003150024",
    "version": 1,
    "basic": {"mobile": None, "gender": "female", "photo_id": None},
    "educations": [
        {
            "id": 3,
            "school": "南开大学",
            "specialty": "软件工程",
            "level": "bachelor",
            "degree": None,
            "source": "register",
            "start_date": "2008-09-01",
            "end_date": "2012-07-01",
            "before_work": False,
        }
    ],
    "qualification": {
        "specialty": None,
        "appointment": None,
        "non_professional_years": 0.0,
        "professional_years": None,
    },
    "certificates": [],
    "work_experiences": [],
    "social_posts": [],
    "continuing_education": [],
    "continuing_education_years": [],
    "annual_assessments": [],
}
ACTIVITY = {
    "id": "a1",
    "name": "2026年度工程系列高级职称评审",
    "mode": "social_review",
    "committee_name": "评委会",
    "series": "工程",
    "levels": ["副高级"],
    "specialties": ["软件工程"],
    "qualification_names": ["高级工程师"],
    "categories": ["normal", "education_exception"],
    "initial_deadline": "2099-12-31T23:59:59+08:00",
    "modification_deadline": "2099-12-31T23:59:59+08:00",
    "consultation_phone": "022",
    "exception_conditions": {"education_exception": [{"code": "major_award", "text": "获省部级二等奖以上"}]},
    "required_materials": [
        {
            "code": "work_summary",
            "name": "工作总结",
            "required": True,
            "fields": [{"name": "summary", "label": "工作总结", "required": True}],
        }
    ],
    "item_types": [
        {
            "code": "paper",
            "name": "论文",
            "min": 1,
            "max": 3,
            "attachments_required": True,
            "representative": True,
            "fields": [{"name": "title", "label": "题目", "required": True}],
        }
    ],
}
DRAFT = {
    "id": "d2",
    "activity_id": "a1",
    "status": "draft",
    "mode": "social_review",
    "series": "工程",
    "level": "副高级",
    "specialty": "软件工程",
    "qualification_name": "高级工程师",
    "category": "normal",
    "materials": {"work_summary": {"fields": {"summary": "旧"}, "attachments": [{"id": "old", "name": "旧.pdf"}]}},
    "items": [],
    "trail": [],
    "withdrawable": False,
}
ANSWERS.update(
    {
        "/api/v1/profile": PROFILE,
        "/api/v1/profile/completeness": {
            "ready": False,
            "missing": [
                {
                    "section": "basic",
                    "field": "mobile",
                    "rule": "required",
                    "message": "Fill in your mobile phone number",
                }
            ],
        },
        "/api/v1/organisations": {"items": [{"code": "91120101MA05K1XT13", "name": "天津市示范科技有限公司"}]},
        "/api/v1/profile/attachments": {"items": []},
        "/api/v1/activities": [ACTIVITY],
        "/api/v1/activities/a1": ACTIVITY,
        "/api/v1/catalogue": {"categories": [{"code": "normal", "name": "正常申报"}], "series": []},
        "/api/v1/declarations/d2": DRAFT,
        "/api/v1/declarations/d2/eligibility": {
            "eligible": False,
            "failures": ["2025: 继续教育不足 90 学时"],
            "checks": [],
            "warnings": ["专业不相关 unrelated specialty"],
        },
        "/api/v1/clock": {
            "today": "2026-12-03",
            "now": "2026-12-03T05:00:00+00:00",
            "test_clock": True,
            "offset_seconds": 0,
            "moves": [],
            "moves_total": 0,
        },
    }
)


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/my/profile", "Fill in your mobile phone number"),  # what is still missing
        ("/my/profile", 'value="91120101MA05K1XT13"'),  # the work unit chosen from the directory
        ("/my/profile", 'name="appointment.proof_ids"'),  # a nested field, under the API's name
        ("/my/declarations/new", "2026年度工程系列高级职称评审"),
        ("/my/declarations/new", "正常申报"),
        ("/declarations/d2", "2025: 继续教育不足 90 学时"),  # the eligibility check's failures
        ("/declarations/d2", "专业不相关 unrelated specialty"),  # and its warnings
        ("/declarations/d2", 'name="fields.summary"'),  # the activity's required material
        ("/declarations/d2", "form-item-paper"),  # and its achievement items
    ],
)
def test_the_applicants_forms_are_drawn_from_the_apis(console, answered, path, expected):
    signed_in(console, "applicant", "applicant2")
    response = console.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[-800:]
    assert expected in response.get_data(as_text=True)


def test_a_profile_form_becomes_the_apis_json_with_the_file_uploaded_first(console, answered):
    signed_in(console, "applicant", "applicant2")
    done = console.post(
        "/my/profile/qualification",
        content_type="multipart/form-data",
        data={
            "csrf_token": "k",
            "specialty": "软件工程",
            "first_professional_work_date": "2012-07-15",
            "non_professional_years": "1.5",
            "appointment.post": "工程师",
            "appointment.appointed_on": "",
            "appointment.proof_kind": "appointment_letter",
            "appointment.proof_ids": (__import__("io").BytesIO(b"%PDF-1.4"), "聘任文件.pdf"),
        },
    )
    assert done.status_code == 302 and done.location.startswith("/my/profile")
    upload, put = [s for s in answered if s[0] != "GET"]
    assert upload == ("POST", "profile", "/api/v1/profile/attachments", {"file": "聘任文件.pdf"})
    assert put == (
        "PUT",
        "profile",
        "/api/v1/profile/qualification",
        {
            "specialty": "软件工程",
            "first_professional_work_date": "2012-07-15",
            "non_professional_years": 1.5,
            "appointment": {"post": "工程师", "proof_kind": "appointment_letter", "proof_ids": ["file-1"]},
        },
    )


def test_the_services_refusal_is_shown_beside_the_field_it_names(console, answered, monkeypatch):
    read = backend.Backend.call

    def refuse_put(self, method, service, path, params=None, json=None, files=None):
        if method == "PUT":
            raise backend.ApiError(
                422,
                {
                    "detail": "invalid",
                    "errors": [
                        {
                            "field": "appointment.proof_ids",
                            "rule": "required",
                            "message": "a proof is needed (聘任证明)",
                        }
                    ],
                },
                path,
            )
        return read(self, method, service, path, params=params, json=json, files=files)

    monkeypatch.setattr(backend.Backend, "call", refuse_put)
    signed_in(console, "applicant", "applicant2")
    page = console.post(
        "/my/profile/qualification",
        data={"csrf_token": "k", "specialty": "软件工程", "appointment.proof_kind": "unit_certificate"},
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'data-field="appointment.proof_ids">a proof is needed (聘任证明) (required)' in text
    assert '<option value="unit_certificate" selected>' in text  # what was chosen is shown again


def test_a_number_that_is_none_is_refused_before_the_service_is_asked(console, answered):
    signed_in(console, "applicant", "applicant2")
    page = console.post(
        "/my/profile/continuing-education",
        data={"csrf_token": "k", "year": "2025", "hours": "九十", "specialist_hours": "64"},
    )
    assert page.status_code == 422 and 'data-field="hours"' in page.get_data(as_text=True)
    assert not [s for s in answered if s[0] != "GET"]


def test_a_new_declaration_is_opened_on_the_chosen_activity(console, answered):
    signed_in(console, "applicant", "applicant2")
    done = console.post(
        "/my/declarations/new",
        data={
            "csrf_token": "k",
            "activity_id": "a1",
            "level": "副高级",
            "specialty": "软件工程",
            "qualification_name": "高级工程师",
            "category": "normal",
        },
    )
    assert done.status_code == 302 and done.location == "/declarations/new-d"
    assert answered[-1] == (
        "POST",
        "declaration",
        "/api/v1/declarations",
        {
            "activity_id": "a1",
            "level": "副高级",
            "specialty": "软件工程",
            "qualification_name": "高级工程师",
            "category": "normal",
        },
    )


def test_a_material_is_saved_with_the_others_kept_and_its_file_as_the_declaration_names_it(console, answered):
    signed_in(console, "applicant", "applicant2")
    console.post(
        "/my/declarations/d2/materials/work_summary",
        data={"csrf_token": "k", "fields.summary": "任现职以来的工作", "attachments__kept": "old"},
    )
    assert answered[-1] == (
        "PATCH",
        "declaration",
        "/api/v1/declarations/d2",
        {
            "materials": {
                "work_summary": {
                    "fields": {"summary": "任现职以来的工作"},
                    "attachments": [{"id": "old", "name": "旧.pdf"}],
                }
            }
        },
    )
    console.post(
        "/my/declarations/d2/items/paper",
        content_type="multipart/form-data",
        data={
            "csrf_token": "k",
            "fields.title": "论文一",
            "representative": "1",
            "attachments": (__import__("io").BytesIO(b"%PDF-1.4"), "论文.pdf"),
        },
    )
    uploaded, added = answered[-2:]
    assert uploaded == ("POST", "profile", "/api/v1/profile/attachments", {"file": "论文.pdf"})
    assert added == (
        "POST",
        "declaration",
        "/api/v1/declarations/d2/items",
        {
            "item_type": "paper",
            "representative": True,
            "fields": {"title": "论文一"},
            "attachments": [{"id": f"file-{len(answered) - 1}", "name": "论文.pdf"}],
        },
    )  # the id the upload answered


def test_a_submission_waiting_for_its_files_asks_to_submit_again(console, monkeypatch):
    def refuse(self, method, service, path, params=None, json=None, files=None):
        raise backend.ApiError(
            422,
            {
                "detail": "unknown file",
                "errors": [{"field": "items.0.attachments.0", "rule": "known_attachment", "message": "not known yet"}],
            },
            path,
        )

    monkeypatch.setattr(backend.Backend, "call", refuse)
    signed_in(console, "applicant", "applicant2")
    back = console.post("/my/declarations/d2/submit", data={"csrf_token": "k"})
    assert back.location == "/declarations/d2"
    with console.session_transaction() as session:
        [(category, message)] = session["_flashes"]
    assert category == "error" and "submit again in a moment" in message


def test_the_title_office_moves_the_test_clock_from_its_page(console, answered):
    signed_in(console, "title_office")
    assert "2026-12-03" in console.get("/clock").get_data(as_text=True)
    console.post("/clock/advance", data={"csrf_token": "k", "days": "15"})
    assert answered[-1] == ("POST", "review", "/api/v1/clock/advance", {"days": 15})


def test_a_task_with_an_action_is_done_by_the_action_not_by_a_decision(console, answered, monkeypatch):
    signed_in(console, "unit")
    publicity = console.get("/tasks/t1").get_data(as_text=True)  # unit_publicity: started, not decided
    assert 'id="start-publicity"' in publicity and 'id="decide"' not in publicity
    monkeypatch.setitem(
        ANSWERS,
        "/api/v1/tasks/t1/context",
        dict(ANSWERS["/api/v1/tasks/t1/context"], task=dict(TASK, stage="unit_check")),
    )
    check = console.get("/tasks/t1").get_data(as_text=True)
    assert 'id="decide"' in check and 'id="start-publicity"' not in check
    monkeypatch.setitem(
        ANSWERS,
        "/api/v1/tasks/t1/context",
        dict(
            ANSWERS["/api/v1/tasks/t1/context"],
            task=dict(
                TASK, stage="expert_vote", action="vote", role="expert", decisions=["agree", "disagree", "abstain"]
            ),
        ),
    )
    ballot = console.get("/tasks/t1").get_data(as_text=True)  # a vote is cast as the task's decision
    assert 'id="decide"' in ballot and 'value="abstain"' in ballot


def test_an_exception_category_claims_the_activitys_conditions_with_their_proof(console, answered, monkeypatch):
    monkeypatch.setitem(ANSWERS, "/api/v1/declarations/d2", dict(DRAFT, category="education_exception"))
    signed_in(console, "applicant", "applicant2")
    assert 'name="claim.major_award"' in console.get("/declarations/d2").get_data(as_text=True)
    console.post(
        "/my/declarations/d2/parts/claims",
        content_type="multipart/form-data",
        data={
            "csrf_token": "k",
            "claim.major_award": "1",
            "proof.major_award": (__import__("io").BytesIO(b"%PDF-1.4"), "获奖证书.pdf"),
        },
    )
    assert answered[-1] == (
        "PATCH",
        "declaration",
        "/api/v1/declarations/d2",
        {
            "exception_claims": [
                {"code": "major_award", "proof": [{"id": f"file-{len(answered) - 1}", "name": "获奖证书.pdf"}]}
            ]
        },
    )


def test_a_series_with_a_section_of_its_own_asks_for_it(console, answered, monkeypatch):
    monkeypatch.setitem(ANSWERS, "/api/v1/declarations/d2", dict(DRAFT, series="卫生"))
    signed_in(console, "applicant", "applicant2")
    assert 'name="practice_category"' in console.get("/declarations/d2").get_data(as_text=True)
    console.post(
        "/my/declarations/d2/parts/section-health",
        data={"csrf_token": "k", "practice_certificate_number": "110120000012345", "practice_category": "临床"},
    )
    assert answered[-1] == (
        "PATCH",
        "declaration",
        "/api/v1/declarations/d2",
        {
            "sections": {
                "health": {
                    "practice_certificate_number": "110120000012345",
                    "practice_category": "临床",
                    "attachments": [],
                }
            }
        },
    )
