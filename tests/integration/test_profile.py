"""The profile service: applicants' profiles, work experience, the directory, snapshots."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import wait_for

UNIT = "91120101MA05K1XT13"  # 天津市示范科技有限公司 (kind unit)
UNIT_NAME = "天津市示范科技有限公司"
DEPARTMENT = "111201010000123459"  # 天津市和平区科学技术局 (kind department)
TITLE_OFFICE = "11120000000054321L"
ACTIVITY = "5d6f1a52-3c1e-4a8e-9a3e-2026e0000001"


def outbox(db, message_type: str) -> list[dict]:
    model = db.outbox_model
    with db.uow(readonly=True) as uow:
        rows = uow.session.scalars(select(model).where(model.type == message_type).order_by(model.seq))
        return [json.loads(row.body) for row in rows]


def add_work(clients, auth, **fields):
    return clients["profile"].post("/api/v1/profile/work-experiences", headers=auth("applicant"), json=fields)


def assert_problem(response, status: int, field: str | None = None, rule: str | None = None) -> dict:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    if field is not None:
        assert body["errors"][0]["field"] == field, body
    if rule is not None:
        assert body["errors"][0]["rule"] == rule, body
    return body


# -- the profile -----------------------------------------------------------------


def test_profile_is_created_from_the_verified_token_and_kept(clients, auth, dbs):
    first = clients["profile"].get("/api/v1/profile", headers=auth("applicant"))
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["subject"], body["name"], body["id_number"]) == ("applicant", "张伟", "120101198806120032")
    assert body["work_experiences"] == [] and body["certificates"] == []
    # the register's records (学信网) came in with the first sign-in
    assert [(e["source"], e["level"]) for e in body["educations"]] == [("register", "bachelor"), ("register", "master")]
    # birth date and gender are read from the resident ID number
    assert (body["basic"]["date_of_birth"], body["basic"]["gender"]) == ("1988-06-12", "male")
    assert body["basic"]["nationality"] == "中国" and body["basic"]["id_type"] == "resident_id"
    second = clients["profile"].get("/api/v1/profile", headers=auth("applicant"))
    assert second.status_code == 200
    assert second.get_json() == first.get_json()


def test_a_change_reads_the_profile_once_under_its_lock_and_nothing_else_it_does_not_answer(clients, auth, dbs):
    """The qualification's change: the profile's row read once (locked, on PostgreSQL), and no section of the
    profile its rules do not need read for an answer that holds the qualification alone."""
    from sqlalchemy import event

    reads: list[str] = []

    def seen(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        flat = " ".join(statement.split()).upper()
        if flat.startswith("SELECT"):
            reads.append(flat)

    engine = dbs["profile"].engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        made = clients["profile"].put(  # (the profile made from the token, if this is its first use)
            "/api/v1/profile/qualification", headers=auth("applicant2"), json={"specialty": "计算机应用技术"}
        )
        assert made.status_code == 200, made.get_json()
        reads.clear()
        changed = clients["profile"].put(
            "/api/v1/profile/qualification", headers=auth("applicant2"), json={"specialty": "软件工程"}
        )
        assert changed.status_code == 200, changed.get_json()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    [profile] = [read for read in reads if " FROM PROFILES " in f"{read} "]
    if engine.dialect.name == "postgresql":
        assert profile.endswith("FOR UPDATE")
    # The rules read the educations (the first professional work comes after graduating); nothing else.
    assert [read.split(" FROM ")[1].split()[0] for read in reads if read is not profile] == ["EDUCATIONS"], reads
    assert changed.get_json()["specialty"] == "软件工程"


@pytest.mark.parametrize("user", ["unit", "dept1", "committee", "expert1", "title_office"])
def test_staff_have_no_profile(clients, auth, dbs, user):
    response = clients["profile"].get("/api/v1/profile", headers=auth(user))
    assert_problem(response, 403)


def test_work_experience_needs_an_applicant(clients, auth, dbs):
    response = clients["profile"].post(
        "/api/v1/profile/work-experiences",
        headers=auth("unit"),
        json={"status": "former", "unit_name": "x", "start_date": "2010-01-01"},
    )
    assert_problem(response, 403)


# -- work experience -------------------------------------------------------------


def test_current_employment_at_a_registered_unit_takes_the_registered_name(clients, auth, demo):
    response = add_work(
        clients, auth, status="current", unit_code=UNIT, unit_name="随便写的名字", start_date="2015-07-01"
    )
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert record["unit_code"] == UNIT
    assert record["unit_name"] == UNIT_NAME
    assert record["status"] == "current" and record["start_date"] == "2015-07-01" and record["end_date"] is None
    profile = clients["profile"].get("/api/v1/profile", headers=auth("applicant")).get_json()
    assert profile["work_experiences"] == [record]


def test_current_employment_without_a_unit_code_is_refused(clients, auth, demo):
    response = add_work(clients, auth, status="current", unit_name=UNIT_NAME, start_date="2015-07-01")
    assert_problem(response, 422, "unit_code", "registered_unit")


def test_current_employment_at_an_unregistered_unit_is_refused(clients, auth, demo):
    response = add_work(clients, auth, status="current", unit_code="91120101MA05K1XT99", start_date="2015-07-01")
    body = assert_problem(response, 422, "unit_code", "registered_unit")
    assert "91120101MA05K1XT99" in body["detail"]


def test_a_department_is_not_a_work_unit(clients, auth, demo):
    response = add_work(clients, auth, status="current", unit_code=DEPARTMENT, start_date="2015-07-01")
    assert_problem(response, 422, "unit_code", "registered_unit")


def test_only_one_current_employment(clients, auth, demo):
    assert add_work(clients, auth, status="current", unit_code=UNIT, start_date="2015-07-01").status_code == 201
    response = add_work(clients, auth, status="current", unit_code=UNIT, start_date="2020-01-01")
    assert_problem(response, 409, "status", "one_current")
    profile = clients["profile"].get("/api/v1/profile", headers=auth("applicant")).get_json()
    assert len(profile["work_experiences"]) == 1


def test_end_before_start_is_refused(clients, auth, demo):
    response = add_work(
        clients, auth, status="former", unit_name="某公司", start_date="2015-07-01", end_date="2015-06-30"
    )
    assert_problem(response, 422, "end_date", "not_before_start")


def test_a_former_employer_may_be_typed_without_a_code(clients, auth, demo):
    response = add_work(
        clients, auth, status="former", unit_name="北京某研究所", start_date="2010-07-01", end_date="2015-06-30"
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["unit_code"] is None
    assert response.get_json()["unit_name"] == "北京某研究所"
    # ...but a name is then needed
    nameless = add_work(clients, auth, status="former", start_date="2010-07-01", end_date="2015-06-30")
    assert_problem(nameless, 422, "unit_name", "required")


def test_work_experiences_are_listed_in_order(clients, auth, demo):
    add_work(clients, auth, status="current", unit_code=UNIT, start_date="2015-07-01")
    add_work(clients, auth, status="former", unit_name="北京某研究所", start_date="2010-07-01", end_date="2015-06-30")
    profile = clients["profile"].get("/api/v1/profile", headers=auth("applicant")).get_json()
    assert [w["start_date"] for w in profile["work_experiences"]] == ["2010-07-01", "2015-07-01"]


# -- the directory ---------------------------------------------------------------


@pytest.mark.parametrize("user", ["applicant", "unit", "committee", "title_office"])
def test_any_logged_in_user_reads_the_directory(clients, auth, demo, user):
    response = clients["profile"].get("/api/v1/organisations", headers=auth(user))
    assert response.status_code == 200
    body = response.get_json()
    codes = {o["code"]: o for o in body["items"]}
    # the demonstration directory: 5 organisations, and a four-level chain above two units with an
    # independent-review committee (7 more)
    assert len(codes) == 12 and (body["total"], body["page"], body["per_page"]) == (12, 1, 20)
    assert codes[UNIT] == {
        "code": UNIT,
        "name": UNIT_NAME,
        "kind": "unit",
        "parent": DEPARTMENT,
        "ownership": "private",
        "owner": None,
        "scope": None,
        "check_override": False,
    }


def test_one_organisation_by_code(clients, auth, demo):
    response = clients["profile"].get(f"/api/v1/organisations/{TITLE_OFFICE}", headers=auth("applicant"))
    assert response.status_code == 200
    assert response.get_json()["kind"] == "title_office" and response.get_json()["parent"] is None
    missing = clients["profile"].get("/api/v1/organisations/000000000000000000", headers=auth("applicant"))
    assert_problem(missing, 404, "code", "exists")


def test_title_office_registers_an_organisation_once(clients, auth, demo):
    db = demo["profile"]
    seeded = len(outbox(db, "profile.organisation.registered.v1"))
    new = {"code": "91120104MA06ABCD1M", "name": "天津市新注册软件有限公司", "kind": "unit", "parent": DEPARTMENT}
    payload = dict(new)
    response = clients["profile"].post("/api/v1/organisations", headers=auth("title_office"), json=payload)
    assert response.status_code == 201, response.get_json()
    new.update(ownership=None, owner=None, scope=None, check_override=False)
    assert response.get_json() == new
    messages = outbox(db, "profile.organisation.registered.v1")
    assert len(messages) == seeded + 1
    assert messages[-1]["data"] == new
    assert messages[-1]["source"] == "profile"

    again = clients["profile"].post("/api/v1/organisations", headers=auth("title_office"), json=payload)
    assert again.status_code == 201
    assert len(outbox(db, "profile.organisation.registered.v1")) == seeded + 1

    listed = clients["profile"].get(f"/api/v1/organisations/{new['code']}", headers=auth("unit")).get_json()
    assert listed == new


def test_renaming_an_organisation_is_announced(clients, auth, demo):
    db = demo["profile"]
    seeded = len(outbox(db, "profile.organisation.registered.v1"))
    renamed = {
        "code": UNIT,
        "name": "天津市示范科技股份有限公司",
        "kind": "unit",
        "parent": DEPARTMENT,
        "ownership": "private",
    }
    response = clients["profile"].post("/api/v1/organisations", headers=auth("title_office"), json=renamed)
    assert response.status_code == 201
    renamed.update(owner=None, scope=None, check_override=False)
    messages = outbox(db, "profile.organisation.registered.v1")
    assert len(messages) == seeded + 1 and messages[-1]["data"] == renamed


def test_seeding_twice_emits_nothing_new(dbs):
    from titles import bootstrap

    profile = bootstrap.service("profile")
    profile.seed(dbs["profile"])
    first = len(outbox(dbs["profile"], "profile.organisation.registered.v1"))
    assert first == 12
    profile.seed(dbs["profile"])
    assert len(outbox(dbs["profile"], "profile.organisation.registered.v1")) == first


@pytest.mark.parametrize("user", ["applicant", "unit", "dept1", "committee", "expert1"])
def test_only_the_title_office_registers_organisations(clients, auth, demo, user):
    new = {"code": "91120104MA06ABCD1M", "name": "x", "kind": "unit", "parent": None}
    response = clients["profile"].post("/api/v1/organisations", headers=auth(user), json=new)
    assert_problem(response, 403)
    assert clients["profile"].get("/api/v1/organisations/91120104MA06ABCD1M", headers=auth(user)).status_code == 404


def test_an_unknown_parent_is_refused(clients, auth, demo):
    db = demo["profile"]
    seeded = len(outbox(db, "profile.organisation.registered.v1"))
    new = {"code": "91120104MA06ABCD1M", "name": "x", "kind": "unit", "parent": "11120101000099999D"}
    response = clients["profile"].post("/api/v1/organisations", headers=auth("title_office"), json=new)
    assert_problem(response, 422, "parent", "registered_organisation")
    assert len(outbox(db, "profile.organisation.registered.v1")) == seeded


def test_organisation_input_is_validated(clients, auth, demo):
    response = clients["profile"].post(
        "/api/v1/organisations", headers=auth("title_office"), json={"code": "short", "name": "x", "kind": "club"}
    )
    body = assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} == {"code", "kind"}


# -- the snapshot a declaration asks for ------------------------------------------


def declare(clients, auth) -> str:
    response = clients["declaration"].post(
        "/api/v1/declarations",
        headers=auth("applicant"),
        json={
            "activity_id": ACTIVITY,
            "level": "副高级",
            "specialty": "软件工程",
            "qualification_name": "高级工程师",
            "category": "normal",
        },
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def declaration(clients, auth, declaration_id: str) -> dict:
    return clients["declaration"].get(f"/api/v1/declarations/{declaration_id}", headers=auth("applicant")).get_json()


def test_take_snapshot_answers_with_the_current_unit(clients, auth, demo, workers):
    assert add_work(clients, auth, status="current", unit_code=UNIT, start_date="2015-07-01").status_code == 201
    declaration_id = declare(clients, auth)
    draft = wait_for(
        "the declaration to become a draft",
        lambda: (d := declaration(clients, auth, declaration_id))["status"] == "draft" and d,
    )
    snapshot = draft["snapshot"]
    assert {k: snapshot[k] for k in ("name", "id_number", "unit_code", "unit_name")} == {
        "name": "张伟",
        "id_number": "120101198806120032",
        "unit_code": UNIT,
        "unit_name": UNIT_NAME,
    }
    assert snapshot["snapshot_version"] == 1 and snapshot["subject"] == "applicant"
    assert [w["unit_code"] for w in snapshot["work_experiences"]] == [UNIT]
    assert snapshot["completeness"]["ready"] is False  # current employment alone opens a draft
    taken = outbox(demo["profile"], "profile.snapshot.taken.v1")
    assert len(taken) == 1 and taken[0]["correlation_id"] == declaration_id


def test_take_snapshot_refuses_an_applicant_without_current_employment(clients, auth, demo, workers):
    # a profile with only a former employer
    assert (
        add_work(
            clients, auth, status="former", unit_name="北京某研究所", start_date="2010-07-01", end_date="2015-06-30"
        ).status_code
        == 201
    )
    declaration_id = declare(clients, auth)
    refused = wait_for(
        "the declaration to be refused",
        lambda: (d := declaration(clients, auth, declaration_id))["status"] == "refused" and d,
    )
    assert refused["snapshot"] is None
    assert "注册" in refused["refusal_reason"] and "在职" in refused["refusal_reason"]


def test_take_snapshot_refuses_an_applicant_without_a_profile(dbs):
    from services.profile import service

    with dbs["profile"].uow() as uow:
        service.take_snapshot(uow, "d-1", "nobody")
        uow.commit()
    refused = outbox(dbs["profile"], "profile.snapshot.refused.v1")
    assert [m["data"]["applicant"] for m in refused] == ["nobody"]
    assert refused[0]["correlation_id"] == "d-1"
    assert outbox(dbs["profile"], "profile.snapshot.taken.v1") == []


def test_a_token_without_verified_identity_claims_gets_no_profile(clients, dbs, data_dir):
    import time

    import jwt

    from shared.identity import dev_issuer

    kid, key = dev_issuer.signing_key(data_dir)
    now = int(time.time())
    claims = {
        "iss": dev_issuer.default_issuer(),
        "aud": "titles",
        "sub": "unverified",
        "iat": now,
        "exp": now + 600,
        "role": "applicant",
        "name": "无证件号",
    }
    headers = {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers={'kid': kid})}"}
    response = clients["profile"].get("/api/v1/profile", headers=headers)
    assert_problem(response, 422, "token", "identity_claims")
    with dbs["profile"].uow(readonly=True) as uow:
        from services.profile.models import Profile

        assert uow.session.get(Profile, "unverified") is None


def test_a_former_employer_given_by_code_must_be_a_unit(clients, auth, demo):
    response = add_work(
        clients, auth, status="former", unit_code=DEPARTMENT, start_date="2010-07-01", end_date="2015-06-30"
    )
    assert_problem(response, 422, "unit_code", "registered_unit")
    current_with_end = add_work(
        clients, auth, status="current", unit_code=UNIT, start_date="2015-07-01", end_date="2020-01-01"
    )
    assert_problem(current_with_end, 422, "end_date", "current_has_no_end")


# -- concurrent requests (they race for real on PostgreSQL) -------------------------


def concurrently(apps, count: int, request) -> list:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(count)

    def call(index: int):
        client = apps["profile"].test_client()
        barrier.wait()
        return request(client, index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def test_concurrent_first_requests_create_one_profile(apps, auth, dbs):
    headers = auth("applicant")
    responses = concurrently(apps, 6, lambda client, _: client.get("/api/v1/profile", headers=headers))
    assert [r.status_code for r in responses] == [200] * 6, [r.get_json() for r in responses]
    assert all(r.get_json()["name"] == "张伟" for r in responses)


def test_concurrent_current_employments_leave_one(apps, auth, demo):
    headers = auth("applicant")
    apps["profile"].test_client().get("/api/v1/profile", headers=headers)
    responses = concurrently(
        apps,
        4,
        lambda client, i: client.post(
            "/api/v1/profile/work-experiences",
            headers=headers,
            json={"status": "current", "unit_code": UNIT, "start_date": f"201{i}-07-01"},
        ),
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    profile = apps["profile"].test_client().get("/api/v1/profile", headers=headers).get_json()
    assert [w["status"] for w in profile["work_experiences"]] == ["current"]
