"""Profile and declaration together: the real snapshot's completeness and eligibility, identity
corrections, and the staff list of declarations at an organisation."""

from __future__ import annotations

import datetime as dt
import io

from scenario.profile_steps import demo_pdf
from shared.contracts.profile import IdentityCorrected, Snapshot
from shared.contracts.review import StageChanged
from tests.conftest import wait_for
from tests.integration.test_declaration import (
    DECLARATION,
    PROJECT,
    UNIT,
    assert_problem,
    detail,
    envelope,
    outbox,
    own_files,
    stage,
    submitted_declaration,
)
from tests.integration.test_declaration_lifecycle import SNAPSHOT
from tests.integration.test_profile_rules import other_applicant  # noqa: F401 - a fixture

PDF = demo_pdf("test")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
MATERIALS = {"materials": {"work_summary": {"fields": {"summary": "十年软件研发"}}}}
DEPT1 = "111201010000123459"


def call(clients, headers, method: str, url: str, expect: int = 200, **kw):
    response = getattr(clients["profile"], method)(url, headers=headers, **kw)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def upload(clients, headers, name: str, content: bytes) -> str:
    return call(
        clients,
        headers,
        "post",
        "/api/v1/profile/attachments",
        201,
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )["id"]


def employ(clients, headers) -> None:
    call(
        clients,
        headers,
        "post",
        "/api/v1/profile/work-experiences",
        201,
        json={"status": "current", "unit_code": UNIT, "start_date": "2013-07-15", "role": "led"},
    )


def fill_profile(clients, headers, education: dict, title_issued_on: str) -> None:
    """Everything the profile asks for before a declaration, over HTTP, as the applicant does."""
    employ(clients, headers)
    call(
        clients,
        headers,
        "patch",
        "/api/v1/profile/basic",
        json={"mobile": "13800138000", "photo_id": upload(clients, headers, "photo.png", PNG)},
    )
    call(
        clients,
        headers,
        "post",
        "/api/v1/profile/educations",
        201,
        json={
            **education,
            "school": "天津大学",
            "specialty": "软件工程",
            "study_mode": "full_time",
            "before_work": True,
            "certificate_id": upload(clients, headers, "diploma.pdf", PDF),
        },
    )
    call(
        clients,
        headers,
        "put",
        "/api/v1/profile/qualification",
        json={
            "specialty": "软件工程",
            "first_professional_work_date": "2013-07-15",
            "non_professional_years": 0,
            "appointment": {
                "post": "工程师",
                "appointed_on": "2016-01-01",
                "proof_kind": "appointment_letter",
                "proof_id": upload(clients, headers, "letter.pdf", PDF),
            },
        },
    )
    call(
        clients,
        headers,
        "post",
        "/api/v1/profile/certificates",
        201,
        json={
            "kind": "title",
            "name": "工程师",
            "level": "中级",
            "obtained_by": "review",
            "issued_on": title_issued_on,
            "attachment_id": upload(clients, headers, "title.pdf", PDF),
        },
    )
    for year in range(dt.date.today().year - 3, dt.date.today().year):  # the rule table's window
        call(
            clients,
            headers,
            "post",
            "/api/v1/profile/annual-assessments",
            201,
            json={"year": year, "result": "competent"},
        )
        call(
            clients,
            headers,
            "post",
            "/api/v1/profile/continuing-education",
            201,
            json={"year": year, "hours": 96, "specialist_hours": 64, "content": "专业科目"},
        )
    assert call(clients, headers, "get", "/api/v1/profile/completeness")["ready"] is True


def drafted(clients, headers) -> dict:
    response = clients["declaration"].post("/api/v1/declarations", headers=headers, json=DECLARATION)
    assert response.status_code == 202, response.get_json()
    declaration_id = response.get_json()["id"]
    return wait_for("the snapshot", lambda: (d := detail(clients, headers, declaration_id))["status"] == "draft" and d)


def eligibility(clients, headers, declaration_id: str) -> dict:
    response = clients["declaration"].get(f"/api/v1/declarations/{declaration_id}/eligibility", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def submit(clients, headers, declaration_id: str):
    return clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=headers)


def complete_content(clients, headers, declaration_id: str) -> None:
    url = f"/api/v1/declarations/{declaration_id}"
    assert clients["declaration"].patch(url, headers=headers, json=MATERIALS).status_code == 200
    assert clients["declaration"].post(url + "/items", headers=headers, json=PROJECT).status_code == 201


# -- eligibility on the snapshot the profile service really sends ---------------------------


def test_an_eligible_profile_passes_on_its_real_snapshot(clients, auth, demo, workers):
    headers = auth("applicant")
    fill_profile(
        clients,
        headers,
        {"level": "master", "degree": "master", "start_date": "2010-09-01", "end_date": "2013-07-01"},
        "2015-07-01",
    )
    declaration = drafted(clients, headers)
    assert declaration["snapshot"]["completeness"] == {"ready": True, "missing": []}
    result = eligibility(clients, headers, declaration["id"])
    assert result["eligible"] is True and result["rule"] == "工程/高级工程师", result
    assert declaration["eligibility"]["eligible"] is True  # checked when the snapshot arrived
    complete_content(clients, headers, declaration["id"])
    response = submit(clients, headers, declaration["id"])
    assert response.status_code == 200, response.get_json()


def test_an_ineligible_profile_fails_on_its_real_snapshot_with_the_reason(
    clients, auth, demo, workers, other_applicant
):  # noqa: F811
    two_years_ago = (dt.date.today() - dt.timedelta(days=2 * 366)).isoformat()
    fill_profile(
        clients,
        other_applicant,
        {"level": "junior_college", "start_date": "2008-09-01", "end_date": "2011-07-01"},
        two_years_ago,
    )
    declaration = drafted(clients, other_applicant)
    assert declaration["snapshot"]["completeness"]["ready"] is True
    result = eligibility(clients, other_applicant, declaration["id"])
    assert result["eligible"] is False and result["rule"] == "工程/高级工程师"
    checks = {c["rule"]: c for c in result["checks"]}
    failures = checks["education_years"]["failures"]
    assert failures and all("大学专科" in f and "2 years" in f for f in failures), result
    # the title is two years old: its window has one or two years, each competent with enough hours
    assert checks["annual_assessment"]["passed"] and checks["continuing_education"]["passed"], result
    assert result["failures"] == failures
    assert "seniority_exception" in result["exception_categories"]
    complete_content(clients, other_applicant, declaration["id"])
    body = assert_problem(submit(clients, other_applicant, declaration["id"]), 422)
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [("category", "eligibility")]


# -- completeness: the profile's verdict, refused at submission item by item --------------------


def test_an_incomplete_snapshot_is_refused_naming_every_missing_item(clients, auth, demo, workers):
    headers = auth("applicant")
    employ(clients, headers)
    reported = call(clients, headers, "get", "/api/v1/profile/completeness")
    declaration = drafted(clients, headers)
    snapshot = declaration["snapshot"]["completeness"]
    assert snapshot["ready"] is False and snapshot["missing"] == reported["missing"]
    complete_content(clients, headers, declaration["id"])
    body = assert_problem(submit(clients, headers, declaration["id"]), 422)
    refused = {(e["field"], e["rule"]) for e in body["errors"] if e["field"].startswith("snapshot.")}
    # Exactly what the profile service reported: the two services do not contradict each other.
    assert refused == {(f"snapshot.{m['section']}.{m['field']}", m["rule"]) for m in reported["missing"]}
    assert {
        "snapshot.basic.mobile",
        "snapshot.educations.before_work",
        "snapshot.qualification.first_professional_work_date",
    } <= {f for f, _ in refused}
    for error in body["errors"]:
        if error["field"].startswith("snapshot."):
            assert "(" in error["message"] and "new declaration" in error["message"], error


def test_the_declarations_copy_can_supply_what_the_profile_lacked(clients, auth, demo, workers):
    headers = auth("applicant")
    employ(clients, headers)
    declaration = drafted(clients, headers)
    complete_content(clients, headers, declaration["id"])
    url = f"/api/v1/declarations/{declaration['id']}"
    snapshot = declaration["snapshot"]
    own_files(demo["declaration"], "applicant", "scan")  # a file of theirs, uploaded after the snapshot
    response = clients["declaration"].patch(
        url,
        headers=headers,
        json={"snapshot": {"basic": {**snapshot["basic"], "mobile": "13800138000", "photo_id": "scan"}}},
    )
    assert response.status_code == 200
    body = assert_problem(submit(clients, headers, declaration["id"]), 422)
    fields = {e["field"] for e in body["errors"]}
    assert "snapshot.basic.mobile" not in fields and "snapshot.basic.photo_id" not in fields
    assert "snapshot.educations.before_work" in fields
    # The profile itself is untouched: the copy is the declaration's own.
    missing = call(clients, headers, "get", "/api/v1/profile/completeness")["missing"]
    assert any(m["field"] == "mobile" for m in missing)


# -- identity corrections: an event, and a note on declarations that keep their snapshot -----------


def test_an_identity_correction_is_published_and_noted_but_the_snapshot_stays(clients, auth, demo, workers):
    headers = auth("applicant")
    employ(clients, headers)
    declaration = drafted(clients, headers)
    response = clients["profile"].post(
        "/api/v1/profiles/applicant/identity",
        headers=auth("title_office"),
        json={"name": "张为", "reason": "户籍信息更正"},
    )
    assert response.status_code == 200, response.get_json()
    [event] = [e for e in outbox(demo["profile"], "profile.identity.corrected.v1")]
    assert {k: event["data"][k] for k in ("subject", "field", "old", "new", "reason", "by")} == {
        "subject": "applicant",
        "field": "name",
        "old": "张伟",
        "new": "张为",
        "reason": "户籍信息更正",
        "by": "title_office",
    }
    assert event["data"]["at"]

    def noted():
        current = detail(clients, headers, declaration["id"])
        return [t for t in current["trail"] if t["kind"] == "identity"] and current

    current = wait_for("the correction note", noted)
    [note] = [t for t in current["trail"] if t["kind"] == "identity"]
    assert note["decision"] == "identity_corrected" and "张伟" in note["reason"] and "张为" in note["reason"]
    assert current["snapshot"]["name"] == "张伟"  # the snapshot is independent of the profile


def test_the_identity_event_follows_its_contract(demo):
    from services.declaration import service
    from shared.contracts import contract

    data = {
        "subject": "applicant",
        "field": "id_number",
        "old": "1",
        "new": "2",
        "reason": "r",
        "by": "t",
        "at": "2026-03-01T09:00:00+00:00",
    }
    assert not contract("profile.identity.corrected.v1").schema().validate(data)
    assert contract("profile.identity.corrected.v1").schema().validate({**data, "field": "mobile"})
    with demo["declaration"].uow() as uow:  # no live declaration: nothing to note, no failure
        service.identity_corrected(uow, IdentityCorrected(**data))
        uow.commit()


# -- the staff list -------------------------------------------------------------------------


def at_my_organisation(clients, headers, **query):
    return clients["declaration"].get("/api/v1/declarations/at-my-organisation", headers=headers, query_string=query)


def test_staff_list_declarations_at_or_past_their_organisation(clients, auth, demo):
    from services.declaration import handlers

    declaration_id = submitted_declaration(demo)
    unit = at_my_organisation(clients, auth("unit")).get_json()
    assert unit["total"] == 1 and [d["id"] for d in unit["items"]] == [declaration_id]
    assert at_my_organisation(clients, auth("dept1")).get_json()["total"] == 0
    assert (
        clients["declaration"].get(f"/api/v1/declarations/{declaration_id}", headers=auth("dept1")).status_code == 403
    )
    with demo["declaration"].uow() as uow:
        data = stage(declaration_id, "department_check", 5, DEPT1)
        handlers.on_stage_changed(uow, envelope("review.stage.changed.v1", data), StageChanged.load(data))
        uow.commit()
    for user in ("unit", "dept1"):  # at the department now, and passed through the unit
        assert [d["id"] for d in at_my_organisation(clients, auth(user)).get_json()["items"]] == [declaration_id]
        assert (
            clients["declaration"].get(f"/api/v1/declarations/{declaration_id}", headers=auth(user)).status_code == 200
        )
    for user in ("dept2", "committee", "title_office"):
        assert at_my_organisation(clients, auth(user)).get_json()["total"] == 0


def test_a_draft_is_not_in_its_units_list(clients, auth, demo):
    from services.declaration import service
    from shared.identity.principal import Principal

    applicant = Principal(subject="applicant", role="applicant", name="张伟", id_number="120101198806120032")
    with demo["declaration"].uow() as uow:
        declaration = service.create(uow, applicant, dict(DECLARATION))
        service.snapshot_taken(uow, declaration.id, Snapshot.load(SNAPSHOT))
        uow.commit()
    assert at_my_organisation(clients, auth("unit")).get_json()["total"] == 0


def test_the_staff_list_is_paged(clients, auth, demo):
    from services.declaration.models import Declaration

    first = submitted_declaration(demo)
    with demo["declaration"].uow() as uow:  # a second submitted one, for another applicant
        original = uow.session.get(Declaration, first)
        copy = {c.name: getattr(original, c.name) for c in Declaration.__table__.columns}
        uow.session.add(
            Declaration(**{**copy, "id": "second-declaration", "applicant": "applicant2", "live_slot": "applicant2|x"})
        )
        uow.commit()
    page = at_my_organisation(clients, auth("unit"), per_page=1, page=2).get_json()
    assert page["total"] == 2 and page["page"] == 2 and len(page["items"]) == 1
    assert_problem(at_my_organisation(clients, auth("unit"), per_page=0), 422)


def test_the_staff_list_is_for_staff_only(clients, auth, demo):
    for user in ("applicant", "expert1"):
        assert_problem(at_my_organisation(clients, auth(user)), 403)
    assert_problem(clients["declaration"].get("/api/v1/declarations/at-my-organisation"), 401)
