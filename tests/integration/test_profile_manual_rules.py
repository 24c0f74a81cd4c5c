"""Rules of the applicant's manual that the profile service enforces (issue 19): the ID number's
related data, several appointment proofs, the first professional work after graduation, the dispatch
proof template, overseas specialties in Chinese and the register import on first sign-in."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import text

from tests.integration.test_profile_rules import EDUCATION, PDF, Api, other_applicant, problem  # noqa: F401

REGISTER = [
    ("register", "bachelor", "计算机科学与技术", "2010-07-01"),
    ("register", "master", "软件工程", "2013-07-01"),
]


@pytest.fixture
def me(clients, auth, demo):
    return Api(clients["profile"], auth("applicant"))


# -- §四(二) 关联信息不可修改: a resident ID number decides birth date, gender and ID type ---------------


@pytest.mark.parametrize(
    "change, fields",
    [
        ({"id_type": "passport", "gender": "female"}, ["id_type", "gender"]),
        ({"id_type": "passport", "date_of_birth": "1990-01-01"}, ["id_type", "date_of_birth"]),
        ({"id_type": "passport"}, ["id_type"]),
        ({"id_type": "household_register", "gender": "female"}, ["gender"]),
    ],
)
def test_what_the_resident_id_number_says_cannot_be_changed_with_the_id_type(me, change, fields):
    body = problem(me("patch", "/profile/basic", json=change), 422, fields[0], "agrees_with_id_number")
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [(f, "agrees_with_id_number") for f in fields]
    basic = me("get", "/profile").get_json()["basic"]
    assert (basic["id_type"], basic["gender"], basic["date_of_birth"]) == ("resident_id", "male", "1988-06-12")


def test_the_household_register_carries_the_same_number(me):
    response = me("patch", "/profile/basic", json={"id_type": "household_register", "mobile": "13800138000"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id_type"] == "household_register"


def test_data_saved_against_the_number_shows_in_completeness(me, dbs):
    assert me("get", "/profile").status_code == 200
    with dbs["profile"].engine.begin() as connection:  # as the earlier rule let it be saved
        connection.execute(
            text("UPDATE profiles SET id_type = 'passport', gender = 'female' WHERE subject = 'applicant'")
        )
    missing = {(m["field"], m["rule"]) for m in me("get", "/profile/completeness").get_json()["missing"]}
    assert {("id_type", "agrees_with_id_number"), ("gender", "agrees_with_id_number")} <= missing
    # unrelated changes are refused until it agrees again; putting it right in the same request is accepted
    problem(me("patch", "/profile/basic", json={"mobile": "13800138000"}), 422, "id_type", "agrees_with_id_number")
    fixed = me("patch", "/profile/basic", json={"id_type": "resident_id", "gender": "male", "mobile": "13800138000"})
    assert fixed.status_code == 200, fixed.get_json()


def test_a_person_without_a_resident_id_number_sets_type_and_gender_freely(clients, other_applicant_passport):
    them = Api(clients["profile"], other_applicant_passport)
    response = them(
        "patch", "/profile/basic", json={"id_type": "passport", "gender": "female", "date_of_birth": "1990-05-01"}
    )
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def other_applicant_passport(data_dir, demo):
    import time

    import jwt

    from shared.identity import dev_issuer

    kid, key = dev_issuer.signing_key(data_dir)
    now = int(time.time())
    claims = {
        "iss": dev_issuer.default_issuer(),
        "aud": "titles",
        "sub": "applicant-passport",
        "iat": now,
        "exp": now + 600,
        "role": "applicant",
        "name": "Anna Schmidt",
        "id_number": "C01X00T47",
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers={'kid': kid})}"}


# -- §三(一)3 ※1 several appointment proofs -------------------------------------------------------


def test_the_appointment_takes_several_proofs(me):
    proofs = [me.upload(), me.upload(PDF + b"2", "second.pdf")]
    response = me(
        "put", "/profile/qualification", json={"appointment": {"proof_kind": "appointment_letter", "proof_ids": proofs}}
    )
    assert response.status_code == 200, response.get_json()
    appointment = me("get", "/profile").get_json()["qualification"]["appointment"]
    assert appointment["proof_ids"] == proofs and appointment["proof_id"] == proofs[0]
    problem(
        me(
            "put",
            "/profile/qualification",
            json={"appointment": {"proof_kind": "appointment_letter", "proof_ids": [proofs[0], "nope"]}},
        ),
        422,
        "appointment.proof_ids.1",
        "own_attachment",
    )


def test_the_former_single_proof_is_still_accepted_and_read(me, dbs):
    single = me.upload()
    response = me(
        "put", "/profile/qualification", json={"appointment": {"proof_kind": "labour_contract", "proof_id": single}}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["appointment"]["proof_ids"] == [single]
    # data saved before there could be several: the one proof_id is read as a list of one
    assert me("get", "/profile").status_code == 200
    with dbs["profile"].engine.begin() as connection:
        connection.execute(
            text("UPDATE profiles SET appointment = :a WHERE subject = 'applicant'"),
            {"a": '{"proof_kind": "labour_contract", "proof_id": "' + single + '"}'},
        )
    appointment = me("get", "/profile").get_json()["qualification"]["appointment"]
    assert (appointment["proof_ids"], appointment["proof_id"]) == ([single], single)
    assert "appointment" not in {m["field"] for m in me("get", "/profile/completeness").get_json()["missing"]}


def test_the_migration_turns_a_single_proof_into_a_list():
    import importlib

    migration = importlib.import_module("services.profile.migrations.versions.006_appointment_proof_ids")
    assert migration._to_list({"proof_kind": "unit_certificate", "proof_id": "a"}) == {
        "proof_kind": "unit_certificate",
        "proof_ids": ["a"],
    }
    assert migration._to_list({"proof_ids": ["a", "b"]}) is None
    assert migration._to_single({"proof_ids": ["a", "b"]}) == {"proof_id": "a"}


# -- §三(一)3 "从学校毕业后首次": the first professional work after the before-work education -----------


def test_the_first_professional_work_is_not_before_graduation(me):
    bachelor = me("post", "/profile/educations/import").get_json()[0]  # ends 2010-07-01
    assert me("patch", f"/profile/educations/{bachelor['id']}", json={"before_work": True}).status_code == 200
    body = problem(
        me("put", "/profile/qualification", json={"first_professional_work_date": "2009-07-01"}),
        422,
        "first_professional_work_date",
        "after_before_work_education",
    )
    assert "2010-07-01" in body["errors"][0]["message"] and "从学校毕业后首次" in body["errors"][0]["message"]
    assert me("put", "/profile/qualification", json={"first_professional_work_date": "2010-07-01"}).status_code == 200


def test_a_before_work_education_ending_after_the_first_work_is_refused(me):
    assert me("put", "/profile/qualification", json={"first_professional_work_date": "2011-03-01"}).status_code == 200
    master = me("get", "/profile").get_json()["educations"][1]  # the register's master's, ends 2013-07-01
    problem(
        me("patch", f"/profile/educations/{master['id']}", json={"before_work": True}),
        422,
        "before_work",
        "before_first_professional_work",
    )
    problem(
        me("post", "/profile/educations", json={**EDUCATION, "end_date": "2012-07-01", "certificate_id": me.upload()}),
        422,
        "end_date",
        "before_first_professional_work",
    )
    # an education after the start of work is not a before-work one
    later = me(
        "post",
        "/profile/educations",
        json={**EDUCATION, "end_date": "2012-07-01", "before_work": False, "certificate_id": me.upload()},
    )
    assert later.status_code == 201, later.get_json()


# -- §三(一)4 the dispatch proof template (页面中有模板) ----------------------------------------------


def test_the_dispatch_proof_template_is_served(me, clients, auth):
    response = me("get", "/profile/templates/dispatch-proof")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert "attachment;" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert {"[Content_Types].xml", "_rels/.rels", "word/document.xml"} <= set(archive.namelist())
        document = archive.read("word/document.xml").decode("utf-8")
    assert "劳务派遣人员真实履职证明" in document and "被派至单位（公章）" in document
    assert me("get", "/profile/templates/dispatch-proof").data == response.data  # the same file every time
    assert clients["profile"].get("/api/v1/profile/templates/dispatch-proof").status_code == 401
    # the work-experience schema points to it
    spec = clients["profile"].get("/openapi.json").get_json()
    described = spec["components"]["schemas"]["WorkExperienceIn"]["properties"]["dispatch_proof_id"]["description"]
    assert "/api/v1/profile/templates/dispatch-proof" in described


# -- §三(一)2 overseas degrees: the specialty is the Chinese name of the verification letter -----------


def test_an_overseas_specialty_is_given_in_chinese(me):
    overseas = {
        **EDUCATION,
        "school": "University of Melbourne",
        "overseas": True,
        "before_work": False,
        "certificate_id": me.upload(),
        "verification_letter_id": me.upload(),
    }
    body = problem(
        me("post", "/profile/educations", json={**overseas, "specialty": "Computer Science"}),
        422,
        "specialty",
        "chinese_name_from_verification_letter",
    )
    assert "中文名称" in body["errors"][0]["message"]
    created = me("post", "/profile/educations", json={**overseas, "specialty": "计算机科学"})
    assert created.status_code == 201, created.get_json()
    problem(
        me("patch", f"/profile/educations/{created.get_json()['id']}", json={"specialty": "IT"}),
        422,
        "specialty",
        "chinese_name_from_verification_letter",
    )
    # a domestic record may name its specialty as the diploma does
    assert (
        me(
            "post",
            "/profile/educations",
            json={**EDUCATION, "specialty": "MBA", "before_work": False, "certificate_id": me.upload()},
        ).status_code
        == 201
    )


# -- §三(一)2 "已由学信网自动导入": the register's records arrive on first sign-in ----------------------


def records(body) -> list[tuple]:
    return [(e["source"], e["level"], e["specialty"], e["end_date"]) for e in body]


def test_the_register_is_imported_on_first_sign_in_and_refreshed_on_request(me, tmp_path, monkeypatch):
    import json

    first = me("get", "/profile").get_json()
    assert records(first["educations"]) == REGISTER
    assert all(e["certificate_id"] is None for e in first["educations"])
    master = first["educations"][1]["id"]
    assert me("patch", f"/profile/educations/{master}", json={"degree": "master"}).status_code == 200
    # the register corrects a record and adds one; the applicant refreshes
    from services.profile import register

    data = json.loads(register.DEMO_FILE.read_text("utf-8"))
    entries = data["records"]["120101198806120032"]
    entries[1]["specialty"] = "软件工程（嵌入式方向）"
    entries.append(
        {
            "register_id": "100561201805009999",
            "school": "天津大学",
            "specialty": "软件工程",
            "level": "doctorate",
            "study_mode": "part_time",
            "start_date": "2015-09-01",
            "end_date": "2018-07-01",
        }
    )
    changed = tmp_path / "register.json"
    changed.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    monkeypatch.setenv("PROFILE_REGISTER_FILE", str(changed))
    refreshed = me("post", "/profile/educations/import").get_json()
    assert records(refreshed) == [
        REGISTER[0],
        ("register", "master", "软件工程（嵌入式方向）", "2013-07-01"),
        ("register", "doctorate", "软件工程", "2018-07-01"),
    ]
    assert refreshed[1]["degree"] == "master"  # what the applicant added stays


def test_a_person_the_register_does_not_know_starts_with_no_educations(clients, other_applicant):
    assert Api(clients["profile"], other_applicant)("get", "/profile").get_json()["educations"] == []
