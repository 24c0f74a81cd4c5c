"""Every rule of the profile, section by section: each refusal names its field and rule; each acceptance holds."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from scenario.profile_steps import demo_pdf

UNIT = "91120101MA05K1XT13"
DEPT1 = "111201010000123459"
DEPT2 = "11120000000067890J"
COMMITTEE = "12120000MB1234567L"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
PDF = demo_pdf("rules")
TENCENT, HUAWEI, ALIBABA = "9144030071526726XG", "914403001922038216", "91330100716105852F"


def problem(response, status: int, field: str, rule: str) -> dict:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert (body["errors"][0]["field"], body["errors"][0]["rule"]) == (field, rule), body
    return body


@pytest.fixture
def other_applicant(data_dir):
    import jwt

    from shared.identity import dev_issuer

    kid, key = dev_issuer.signing_key(data_dir)
    now = int(time.time())
    claims = {
        "iss": dev_issuer.default_issuer(),
        "aud": "titles",
        "sub": "applicant-2",
        "iat": now,
        "exp": now + 600,
        "role": "applicant",
        "name": "李娜",
        "id_number": "11010519491231002X",
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers={'kid': kid})}"}


class Api:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def __call__(self, method: str, path: str, **kw):
        return getattr(self.client, method)("/api/v1" + path, headers=self.headers, **kw)

    def upload(self, content: bytes = PDF, name: str = "file.pdf") -> str:
        import io

        response = self(
            "post",
            "/profile/attachments",
            data={"file": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]


@pytest.fixture
def me(clients, auth, demo):
    return Api(clients["profile"], auth("applicant"))


def outbox(db, message_type: str) -> list[dict]:
    model = db.outbox_model
    with db.uow(readonly=True) as uow:
        return [
            json.loads(r.body)
            for r in uow.session.scalars(select(model).where(model.type == message_type).order_by(model.seq))
        ]


# -- basic information ---------------------------------------------------------------


@pytest.mark.parametrize("field, value", [("name", "张三"), ("id_number", "11010519491231002X")])
def test_the_applicant_cannot_change_name_or_id_number(me, field, value):
    problem(me("patch", "/profile/basic", json={field: value}), 422, field, "identity_managed")
    body = me("get", "/profile").get_json()
    assert (body["name"], body["id_number"]) == ("张伟", "120101198806120032")


@pytest.mark.parametrize(
    "change, field", [({"date_of_birth": "1988-06-13"}, "date_of_birth"), ({"gender": "female"}, "gender")]
)
def test_birth_date_and_gender_must_agree_with_the_id_number(me, change, field):
    problem(me("patch", "/profile/basic", json=change), 422, field, "agrees_with_id_number")


def test_basic_information_is_kept(me):
    response = me(
        "patch",
        "/profile/basic",
        json={
            "gender": "male",
            "date_of_birth": "1988-06-12",
            "mobile": "13800138000",
            "ethnicity": "汉族",
            "political_status": "群众",
            "admin_post": "研发部主任",
        },
    )
    assert response.status_code == 200, response.get_json()
    basic = me("get", "/profile").get_json()["basic"]
    assert (basic["mobile"], basic["ethnicity"], basic["admin_post"]) == ("13800138000", "汉族", "研发部主任")


def test_administrative_post_has_at_most_20_characters(me):
    problem(me("patch", "/profile/basic", json={"admin_post": "主" * 21}), 422, "admin_post", "max_20_characters")
    assert me("patch", "/profile/basic", json={"admin_post": "主" * 20}).status_code == 200


def test_administrative_post_is_not_a_party_post(me):
    problem(me("patch", "/profile/basic", json={"admin_post": "党支部书记"}), 422, "admin_post", "no_party_post")


def register_institute(clients, auth, code: str = HUAWEI, ownership: str = "public_institution") -> None:
    institute = {"code": code, "name": "天津市某研究院", "kind": "unit", "parent": DEPT1, "ownership": ownership}
    response = clients["profile"].post("/api/v1/organisations", headers=auth("title_office"), json=institute)
    assert response.status_code == 201, response.get_json()


def post_level_items(me) -> list[dict]:
    return [m for m in me("get", "/profile/completeness").get_json()["missing"] if m["field"] == "admin_post_level"]


def test_post_level_only_on_the_establishment_of_a_state_owned_unit(me, clients, auth):
    level = {"admin_post_level": "正科级", "on_establishment": True}
    problem(
        me("patch", "/profile/basic", json={"admin_post_level": "正科级"}),
        422,
        "admin_post_level",
        "establishment_only",
    )
    # on the establishment by their own word, but no current unit to check it against
    problem(me("patch", "/profile/basic", json=level), 422, "admin_post_level", "state_owned_unit")
    # the demonstration unit is private in the directory: the applicant's flag does not make it state-owned
    work = me(
        "post", "/profile/work-experiences", json={"status": "current", "unit_code": UNIT, "start_date": "2015-07-01"}
    )
    body = problem(me("patch", "/profile/basic", json=level), 422, "admin_post_level", "state_owned_unit")
    assert "天津市示范科技有限公司" in body["errors"][0]["message"]
    # at a public institution of the directory it is allowed
    register_institute(clients, auth)
    moved = me(
        "put",
        f"/profile/work-experiences/{work.get_json()['id']}",
        json={"status": "current", "unit_code": HUAWEI, "start_date": "2015-07-01"},
    )
    assert moved.status_code == 200, moved.get_json()
    ok = me("patch", "/profile/basic", json=level)
    assert ok.status_code == 200 and ok.get_json()["admin_post_level"] == "正科级"
    assert post_level_items(me) == []


def test_a_later_change_of_employment_shows_the_post_level_in_completeness(me, clients, auth):
    register_institute(clients, auth)
    work = me(
        "post", "/profile/work-experiences", json={"status": "current", "unit_code": HUAWEI, "start_date": "2015-07-01"}
    ).get_json()
    assert (
        me("patch", "/profile/basic", json={"admin_post_level": "正科级", "on_establishment": True}).status_code == 200
    )
    # moving to the private demonstration unit is accepted, and completeness names the post level
    assert (
        me(
            "put",
            f"/profile/work-experiences/{work['id']}",
            json={"status": "current", "unit_code": UNIT, "start_date": "2015-07-01"},
        ).status_code
        == 200
    )
    [item] = post_level_items(me)
    assert (item["section"], item["rule"]) == ("basic", "state_owned_unit") and "行政职务级别" in item["message"]
    # unrelated basic information can still be changed meanwhile
    assert me("patch", "/profile/basic", json={"mobile": "13800138000"}).status_code == 200
    # ending the current employment leaves no unit to check against
    assert me("delete", f"/profile/work-experiences/{work['id']}").status_code == 204
    assert [i["rule"] for i in post_level_items(me)] == ["state_owned_unit"]
    # leaving the establishment names the flag; clearing the level resolves it
    me("patch", "/profile/basic", json={"on_establishment": False, "admin_post_level": None})
    assert post_level_items(me) == []


def test_the_post_level_follows_the_units_ownership_in_the_directory(me, clients, auth):
    register_institute(clients, auth)
    me("post", "/profile/work-experiences", json={"status": "current", "unit_code": HUAWEI, "start_date": "2015-07-01"})
    assert (
        me("patch", "/profile/basic", json={"admin_post_level": "正处级", "on_establishment": True}).status_code == 200
    )
    register_institute(clients, auth, ownership="private")  # the title office corrects the directory
    assert [i["rule"] for i in post_level_items(me)] == ["state_owned_unit"]


def test_mobile_number_format(me):
    body = me("patch", "/profile/basic", json={"mobile": "12345"}).get_json()
    assert body["status"] == 422 and body["errors"][0]["field"] == "mobile"


def test_photo_must_be_an_own_jpeg_or_png_within_the_limit(me, monkeypatch, clients, other_applicant):
    problem(me("patch", "/profile/basic", json={"photo_id": me.upload(PDF)}), 422, "photo_id", "photo_type")
    problem(me("patch", "/profile/basic", json={"photo_id": "nope"}), 422, "photo_id", "own_attachment")
    theirs = Api(clients["profile"], other_applicant).upload(PNG, "p.png")
    problem(me("patch", "/profile/basic", json={"photo_id": theirs}), 422, "photo_id", "own_attachment")
    monkeypatch.setenv("PROFILE_PHOTO_MAX_BYTES", "10")
    problem(me("patch", "/profile/basic", json={"photo_id": me.upload(JPEG, "p.jpg")}), 422, "photo_id", "photo_size")
    monkeypatch.undo()
    photo = me.upload(JPEG, "p.jpg")
    assert me("patch", "/profile/basic", json={"photo_id": photo}).get_json()["photo_id"] == photo


# -- attachments -------------------------------------------------------------------


def test_the_type_is_sniffed_from_the_content_and_the_name_never_becomes_a_path(me, data_dir):
    import io

    response = me(
        "post",
        "/profile/attachments",
        data={"file": (io.BytesIO(PNG), "../../etc/evil.exe")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["content_type"], body["name"], body["size"]) == ("image/png", "evil.png", len(PNG))
    import hashlib

    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    stored = data_dir / "attachments" / body["sha256"][:2] / body["sha256"][2:4] / body["sha256"]
    assert stored.read_bytes() == PNG
    again = me(
        "post", "/profile/attachments", data={"file": (io.BytesIO(PNG), "same.png")}, content_type="multipart/form-data"
    ).get_json()
    assert again["sha256"] == body["sha256"] and again["id"] != body["id"]


@pytest.mark.parametrize(
    "content, rule",
    [
        (b"<html><script>alert(1)</script>", "content_type"),
        (b"GIF89a" + b"\x00" * 10, "content_type"),
        (b"", "not_empty"),
    ],
)
def test_only_pdf_jpeg_and_png_are_accepted(me, content, rule):
    import io

    response = me(
        "post",
        "/profile/attachments",
        data={"file": (io.BytesIO(content), "fake.pdf")},
        content_type="multipart/form-data",
    )
    problem(response, 422, "file", rule)


def test_attachments_are_size_limited(me, monkeypatch):
    import io

    monkeypatch.setenv("PROFILE_ATTACHMENT_MAX_BYTES", "16")
    response = me(
        "post", "/profile/attachments", data={"file": (io.BytesIO(PDF), "big.pdf")}, content_type="multipart/form-data"
    )
    problem(response, 422, "file", "max_size")


def test_an_attachment_is_served_to_its_owner_with_safe_headers(me, clients, auth, other_applicant):
    attachment = me.upload(PDF, "任职证明.pdf")
    response = me("get", f"/attachments/{attachment}")
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="attachment.pdf"') and "filename*=UTF-8''" in disposition
    assert "sandbox" in response.headers["Content-Security-Policy"]
    # another applicant learns nothing; staff are refused; the title office may see it
    problem(
        clients["profile"].get(f"/api/v1/attachments/{attachment}", headers=other_applicant),
        404,
        "attachment_id",
        "exists",
    )
    for user in ("unit", "dept1", "committee", "expert1"):
        problem(
            clients["profile"].get(f"/api/v1/attachments/{attachment}", headers=auth(user)),
            403,
            "attachment_id",
            "own_profile",
        )
    assert clients["profile"].get(f"/api/v1/attachments/{attachment}", headers=auth("title_office")).data == PDF
    assert [a["id"] for a in me("get", "/profile/attachments").get_json()["items"]] == [attachment]


# -- education ---------------------------------------------------------------------

EDUCATION = {
    "school": "南开大学",
    "specialty": "软件工程",
    "level": "bachelor",
    "study_mode": "full_time",
    "start_date": "2006-09-01",
    "end_date": "2010-07-01",
    "before_work": True,
}


def test_an_education_added_by_hand_needs_its_certificate(me):
    problem(me("post", "/profile/educations", json=EDUCATION), 422, "certificate_id", "certificate_required")
    ok = me("post", "/profile/educations", json={**EDUCATION, "certificate_id": me.upload()})
    assert ok.status_code == 201 and ok.get_json()["source"] == "manual"


def test_an_overseas_degree_needs_the_verification_letter(me):
    overseas = {**EDUCATION, "school": "University of Melbourne", "overseas": True, "certificate_id": me.upload()}
    problem(
        me("post", "/profile/educations", json=overseas), 422, "verification_letter_id", "verification_letter_required"
    )
    ok = me("post", "/profile/educations", json={**overseas, "verification_letter_id": me.upload(PNG, "l.png")})
    assert ok.status_code == 201


def test_an_education_does_not_end_before_it_starts(me):
    problem(
        me("post", "/profile/educations", json={**EDUCATION, "end_date": "2006-01-01", "certificate_id": me.upload()}),
        422,
        "end_date",
        "not_before_start",
    )


def test_register_records_are_imported_once_kept_and_need_no_attachment(me):
    imported = me("post", "/profile/educations/import").get_json()
    assert [(e["source"], e["level"], e["certificate_id"]) for e in imported] == [
        ("register", "bachelor", None),
        ("register", "master", None),
    ]
    assert len(me("post", "/profile/educations/import").get_json()) == 2
    bachelor = imported[0]["id"]
    problem(me("delete", f"/profile/educations/{bachelor}"), 409, "id", "imported_record")
    problem(
        me("patch", f"/profile/educations/{bachelor}", json={"school": "别的大学"}), 422, "school", "register_field"
    )
    changed = me("patch", f"/profile/educations/{bachelor}", json={"degree": "bachelor", "before_work": True})
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["degree"], changed.get_json()["before_work"], changed.get_json()["school"]) == (
        "bachelor",
        True,
        "天津大学",
    )


def test_a_hand_added_education_can_be_deleted_by_its_owner_only(me, clients, other_applicant):
    record = me("post", "/profile/educations", json={**EDUCATION, "certificate_id": me.upload()}).get_json()
    other = Api(clients["profile"], other_applicant)
    problem(other("delete", f"/profile/educations/{record['id']}"), 404, "id", "exists")
    problem(other("patch", f"/profile/educations/{record['id']}", json={"before_work": False}), 404, "id", "exists")
    assert me("delete", f"/profile/educations/{record['id']}").status_code == 204
    assert [e["source"] for e in me("get", "/profile").get_json()["educations"]] == ["register", "register"]


# -- qualifications ---------------------------------------------------------------


def test_professional_years_are_computed_minus_non_professional_years(me):
    import datetime as dt

    first = dt.date.today().replace(year=dt.date.today().year - 10) - dt.timedelta(days=3)
    response = me(
        "put",
        "/profile/qualification",
        json={"specialty": "软件工程", "first_professional_work_date": first.isoformat(), "non_professional_years": 2},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["professional_years"] == 8.0


def test_qualification_dates_and_years_are_checked(me):
    problem(
        me("put", "/profile/qualification", json={"first_professional_work_date": "2999-01-01"}),
        422,
        "first_professional_work_date",
        "not_in_future",
    )
    problem(
        me(
            "put",
            "/profile/qualification",
            json={"first_professional_work_date": "2020-01-01", "non_professional_years": 40},
        ),
        422,
        "non_professional_years",
        "within_working_years",
    )


def test_the_appointment_needs_its_proof(me):
    problem(
        me("put", "/profile/qualification", json={"appointment": {"proof_kind": "labour_contract"}}),
        422,
        "appointment.proof_ids",
        "proof_required",
    )
    ok = me(
        "put",
        "/profile/qualification",
        json={"appointment": {"proof_kind": "labour_contract", "proof_id": me.upload()}},
    )
    assert ok.status_code == 200 and ok.get_json()["appointment"]["proof_kind"] == "labour_contract"


def test_staff_of_a_public_institution_must_give_the_appointment_letter(me, clients, auth):
    institute = {
        "code": HUAWEI,
        "name": "天津市某研究院",
        "kind": "unit",
        "parent": DEPT1,
        "ownership": "public_institution",
    }
    assert (
        clients["profile"].post("/api/v1/organisations", headers=auth("title_office"), json=institute).status_code
        == 201
    )
    me("post", "/profile/work-experiences", json={"status": "current", "unit_code": HUAWEI, "start_date": "2015-07-01"})
    problem(
        me(
            "put",
            "/profile/qualification",
            json={"appointment": {"proof_kind": "unit_certificate", "proof_id": me.upload()}},
        ),
        422,
        "appointment.proof_kind",
        "appointment_letter_required",
    )
    ok = me(
        "put",
        "/profile/qualification",
        json={"appointment": {"proof_kind": "appointment_letter", "proof_id": me.upload()}},
    )
    assert ok.status_code == 200


CERT = {"kind": "title", "name": "工程师", "level": "中级", "obtained_by": "review", "issued_on": "2018-12-01"}


def test_every_certificate_needs_its_scan(me):
    problem(me("post", "/profile/certificates", json=CERT), 422, "attachment_id", "attachment_required")


def test_only_the_highest_title_certificate_is_kept(me):
    first = me("post", "/profile/certificates", json={**CERT, "attachment_id": me.upload()})
    assert first.status_code == 201, first.get_json()
    problem(
        me(
            "post",
            "/profile/certificates",
            json={**CERT, "name": "高级工程师", "level": "副高级", "attachment_id": me.upload()},
        ),
        409,
        "kind",
        "highest_title_only",
    )
    # several professional qualification and skill certificates may be held
    for kind in ("professional_qualification", "skill", "skill"):
        response = me(
            "post",
            "/profile/certificates",
            json={"kind": kind, "name": "证书", "issued_on": "2019-01-01", "attachment_id": me.upload()},
        )
        assert response.status_code == 201
    assert me("delete", f"/profile/certificates/{first.get_json()['id']}").status_code == 204
    assert (
        me(
            "post",
            "/profile/certificates",
            json={**CERT, "name": "高级工程师", "level": "副高级", "attachment_id": me.upload()},
        ).status_code
        == 201
    )


def test_a_title_certificate_names_its_level_and_how_it_was_obtained(me):
    problem(
        me("post", "/profile/certificates", json={**CERT, "level": None, "attachment_id": me.upload()}),
        422,
        "level",
        "required",
    )
    problem(
        me("post", "/profile/certificates", json={**CERT, "obtained_by": None, "attachment_id": me.upload()}),
        422,
        "obtained_by",
        "one_of",
    )


# -- work experience ---------------------------------------------------------------

WORK = {"status": "former", "unit_name": "北京某研究所", "start_date": "2010-07-01", "end_date": "2015-06-30"}


def test_main_work_content_has_at_most_500_characters(me):
    problem(
        me("post", "/profile/work-experiences", json={**WORK, "main_work": "研" * 501}),
        422,
        "main_work",
        "max_500_characters",
    )
    assert me("post", "/profile/work-experiences", json={**WORK, "main_work": "研" * 500}).status_code == 201


def test_a_participant_gives_their_rank(me):
    problem(
        me("post", "/profile/work-experiences", json={**WORK, "role": "participant"}),
        422,
        "participant_rank",
        "rank_required",
    )
    assert (
        me("post", "/profile/work-experiences", json={**WORK, "role": "participant", "participant_rank": 2}).status_code
        == 201
    )


def test_labour_dispatch_needs_the_unit_and_its_proof(me):
    problem(
        me("post", "/profile/work-experiences", json={**WORK, "dispatched": True}),
        422,
        "dispatched_to",
        "dispatch_unit_required",
    )
    problem(
        me("post", "/profile/work-experiences", json={**WORK, "dispatched": True, "dispatched_to": "某医院"}),
        422,
        "dispatch_proof_id",
        "dispatch_proof_required",
    )
    ok = me(
        "post",
        "/profile/work-experiences",
        json={**WORK, "dispatched": True, "dispatched_to": "某医院", "dispatch_proof_id": me.upload()},
    )
    assert ok.status_code == 201 and ok.get_json()["dispatched_to"] == "某医院"


def test_posts_lie_within_the_employment(me):
    outside = {**WORK, "posts": [{"start_date": "2009-01-01", "end_date": "2012-01-01", "professional_post": "助工"}]}
    problem(me("post", "/profile/work-experiences", json=outside), 422, "posts.0.start_date", "within_employment")
    late = {**WORK, "posts": [{"start_date": "2012-01-01", "end_date": "2016-01-01"}]}
    problem(me("post", "/profile/work-experiences", json=late), 422, "posts.0.start_date", "within_employment")
    backwards = {**WORK, "posts": [{"start_date": "2012-01-01", "end_date": "2011-01-01"}]}
    problem(me("post", "/profile/work-experiences", json=backwards), 422, "posts.0.end_date", "not_before_start")
    inside = {
        **WORK,
        "posts": [
            {"start_date": "2010-07-01", "end_date": "2012-12-31", "professional_post": "助工"},
            {"start_date": "2013-01-01", "professional_post": "工程师"},
        ],
    }
    ok = me("post", "/profile/work-experiences", json=inside)
    assert ok.status_code == 201, ok.get_json()
    assert [p["professional_post"] for p in ok.get_json()["posts"]] == ["助工", "工程师"]
    assert me("delete", f"/profile/work-experiences/{ok.get_json()['id']}").status_code == 204


# -- social posts, continuing education, annual assessments ------------------------


def test_social_posts(me):
    problem(
        me(
            "post",
            "/profile/social-posts",
            json={
                "organisation": "天津市计算机学会",
                "post": "理事",
                "start_date": "2020-01-01",
                "end_date": "2019-01-01",
            },
        ),
        422,
        "end_date",
        "not_before_start",
    )
    assert (
        me(
            "post",
            "/profile/social-posts",
            json={"organisation": "天津市计算机学会", "post": "理事", "start_date": "2020-01-01"},
        ).status_code
        == 201
    )


def test_continuing_education(me):
    def refused(data: dict, field: str, rule: str) -> None:
        problem(me("post", "/profile/continuing-education", json={"year": 2024, **data}), 422, field, rule)

    refused({"hours": 0, "specialist_hours": 0}, "hours", "positive")
    refused({"hours": 90}, "specialist_hours", "required")
    refused({"hours": 90, "specialist_hours": -1}, "specialist_hours", "not_negative")
    refused({"hours": 90, "specialist_hours": 91}, "specialist_hours", "within_hours")
    refused({"year": 2999, "hours": 90, "specialist_hours": 60}, "year", "not_in_future")
    refused({"hours": 90, "specialist_hours": 60, "attachment_ids": ["missing"]}, "attachment_ids.0", "own_attachment")
    ok = me(
        "post",
        "/profile/continuing-education",
        json={"year": 2024, "hours": 90, "specialist_hours": 60, "attachment_ids": [me.upload()]},
    )
    assert ok.status_code == 201 and (ok.get_json()["hours"], ok.get_json()["specialist_hours"]) == (90, 60)


def test_each_year_is_measured_against_90_hours_two_thirds_specialist(me):
    for year, hours, specialist in ((2022, 80, 80), (2023, 60, 40), (2023, 30, 20), (2024, 90, 59.9), (2025, 120, 80)):
        response = me(
            "post", "/profile/continuing-education", json={"year": year, "hours": hours, "specialist_hours": specialist}
        )
        assert response.status_code == 201, response.get_json()
    years = {y["year"]: y for y in me("get", "/profile/continuing-education/years").get_json()}
    assert years[2022] == {
        "year": 2022,
        "hours": 80,
        "specialist_hours": 80,
        "meets_hours": False,
        "meets_specialist_share": True,
        "meets_rule": False,
    }
    # two records of one year add up: 90 hours, 60 of them specialist, exactly two thirds
    assert (years[2023]["hours"], years[2023]["specialist_hours"], years[2023]["meets_rule"]) == (90, 60, True)
    assert (years[2024]["meets_hours"], years[2024]["meets_specialist_share"], years[2024]["meets_rule"]) == (
        True,
        False,
        False,
    )
    assert years[2025]["meets_rule"] is True
    # the whole profile carries the same totals
    assert me("get", "/profile").get_json()["continuing_education_years"] == list(years.values())


def test_annual_assessments_take_a_result_from_the_list_once_a_year(me):
    bad = me("post", "/profile/annual-assessments", json={"year": 2024, "result": "good"})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "result"
    assert me("post", "/profile/annual-assessments", json={"year": 2024, "result": "excellent"}).status_code == 201
    problem(
        me("post", "/profile/annual-assessments", json={"year": 2024, "result": "competent"}),
        409,
        "year",
        "one_per_year",
    )


# -- completeness and the snapshot -----------------------------------------------------


def fill_everything(me) -> None:
    me("post", "/profile/work-experiences", json={"status": "current", "unit_code": UNIT, "start_date": "2015-07-01"})
    me("patch", "/profile/basic", json={"mobile": "13800138000", "photo_id": me.upload(PNG, "me.png")})
    bachelor = me("post", "/profile/educations/import").get_json()[0]
    me("patch", f"/profile/educations/{bachelor['id']}", json={"before_work": True})
    me(
        "put",
        "/profile/qualification",
        json={
            "specialty": "软件工程",
            "first_professional_work_date": "2010-07-15",
            "appointment": {"proof_kind": "appointment_letter", "proof_id": me.upload()},
        },
    )


def test_completeness_names_every_missing_item_until_none_is_left(me):
    first = me("get", "/profile/completeness").get_json()
    assert first["ready"] is False
    items = {(m["section"], m["field"]): m for m in first["missing"]}
    assert set(items) == {
        ("basic", "mobile"),
        ("basic", "photo_id"),
        ("educations", "before_work"),
        ("qualification", "specialty"),
        ("qualification", "first_professional_work_date"),
        ("qualification", "appointment"),
        ("work_experiences", "status"),
    }
    assert "工作前学历" in items[("educations", "before_work")]["message"]
    fill_everything(me)
    assert me("get", "/profile/completeness").get_json() == {"ready": True, "missing": []}


def test_the_refusal_names_every_missing_item(me, demo):
    from services.profile import service

    me("get", "/profile")
    with demo["profile"].uow() as uow:
        service.take_snapshot(uow, "decl-1", "applicant")
        uow.commit()
    [refused] = outbox(demo["profile"], "profile.snapshot.refused.v1")
    reason = refused["data"]["reason"]
    for words in ("在职", "注册", "手机号码", "照片", "工作前学历", "现从事专业", "聘任"):
        assert words in reason, reason


def test_the_snapshot_carries_the_whole_profile_with_attachments_by_reference(me, demo):
    from services.profile import service
    from shared.contracts import load_incoming, validate_outgoing

    fill_everything(me)
    me("post", "/profile/annual-assessments", json={"year": 2024, "result": "excellent"})
    me("post", "/profile/continuing-education", json={"year": 2024, "hours": 96, "specialist_hours": 64})
    with demo["profile"].uow() as uow:
        service.take_snapshot(uow, "decl-2", "applicant")
        uow.commit()
    [taken] = outbox(demo["profile"], "profile.snapshot.taken.v1")
    validate_outgoing("profile.snapshot.taken.v1", taken["data"])
    snapshot = load_incoming("profile.snapshot.taken.v1", taken["data"]).values()["snapshot"]
    assert (snapshot["name"], snapshot["id_number"], snapshot["unit_code"]) == ("张伟", "120101198806120032", UNIT)
    assert snapshot["completeness"] == {"ready": True, "missing": []}
    assert snapshot["basic"]["mobile"] == "13800138000"
    assert [e["source"] for e in snapshot["educations"]] == ["register", "register"]
    assert snapshot["qualification"]["specialty"] == "软件工程"
    assert snapshot["annual_assessments"][0]["result"] == "excellent"
    [education] = snapshot["continuing_education"]
    assert (education["year"], education["hours"], education["specialist_hours"]) == (2024, 96, 64)
    assert len(snapshot["attachments"]) == 2
    assert all(len(a["sha256"]) == 64 and "content" not in a for a in snapshot["attachments"])
    assert snapshot["qualification"]["appointment"]["proof_id"] in {a["id"] for a in snapshot["attachments"]}


# -- identity corrections --------------------------------------------------------------


def test_the_title_office_corrects_identity_with_a_reason_and_a_record(me, clients, auth):
    me("get", "/profile")
    office = Api(clients["profile"], auth("title_office"))
    problem(
        office("post", "/profiles/applicant/identity", json={"name": "张葳", "reason": " "}), 422, "reason", "required"
    )
    problem(
        office("post", "/profiles/applicant/identity", json={"id_number": "120101198806120033", "reason": "户籍更正"}),
        422,
        "id_number",
        "check_digit",
    )
    problem(
        office("post", "/profiles/applicant/identity", json={"name": "张伟", "reason": "x"}),
        422,
        "name",
        "nothing_to_correct",
    )
    problem(office("post", "/profiles/nobody/identity", json={"name": "x", "reason": "x"}), 404, "subject", "exists")
    response = office(
        "post",
        "/profiles/applicant/identity",
        json={"name": "张葳", "id_number": "11010519491231002x", "reason": "公安户籍信息更正，邮件申请"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["id_number"]) == ("张葳", "11010519491231002X")
    assert [(c["field"], c["old_value"], c["new_value"], c["corrected_by"]) for c in body["corrections"]] == [
        ("name", "张伟", "张葳", "title_office"),
        ("id_number", "120101198806120032", "11010519491231002X", "title_office"),
    ]
    assert all(c["reason"] == "公安户籍信息更正，邮件申请" and c["corrected_at"] for c in body["corrections"])
    mine = me("get", "/profile").get_json()
    assert (mine["name"], mine["basic"]["date_of_birth"], mine["basic"]["gender"]) == ("张葳", "1949-12-31", "female")


@pytest.mark.parametrize("user", ["applicant", "unit", "dept1", "committee", "expert1"])
def test_only_the_title_office_sees_or_corrects_identity(me, clients, auth, user):
    me("get", "/profile")
    headers = auth(user)
    assert clients["profile"].get("/api/v1/profiles/applicant/identity", headers=headers).status_code == 403
    assert (
        clients["profile"]
        .post("/api/v1/profiles/applicant/identity", headers=headers, json={"name": "x", "reason": "y"})
        .status_code
        == 403
    )


@pytest.mark.parametrize("user", ["unit", "dept1", "committee", "expert1", "title_office"])
def test_nobody_but_the_applicant_reads_or_changes_the_profile(clients, auth, demo, user):
    headers = auth(user)
    for method, path in (
        ("get", "/profile"),
        ("get", "/profile/completeness"),
        ("patch", "/profile/basic"),
        ("post", "/profile/educations/import"),
        ("put", "/profile/qualification"),
        ("get", "/profile/attachments"),
    ):
        response = getattr(clients["profile"], method)("/api/v1" + path, headers=headers, json={})
        assert response.status_code == 403, (path, response.get_json())


def test_another_applicant_has_a_profile_of_their_own(me, clients, other_applicant):
    fill_everything(me)
    other = Api(clients["profile"], other_applicant).__call__("get", "/profile").get_json()
    assert (other["name"], other["work_experiences"], other["educations"]) == ("李娜", [], [])


# -- the directory ---------------------------------------------------------------------


def register(clients, auth, user: str, **org):
    return clients["profile"].post("/api/v1/organisations", headers=auth(user), json=org)


@pytest.mark.parametrize("code", [TENCENT, HUAWEI, ALIBABA])
def test_published_credit_codes_register(clients, auth, demo, code):
    response = register(clients, auth, "title_office", code=code, name="某公司", kind="unit", parent=DEPT1)
    assert response.status_code == 201 and response.get_json()["check_override"] is False


def test_a_failing_check_character_needs_the_title_offices_recorded_override(clients, auth, demo):
    legal = "91350100M0001TGQXM"
    problem(
        register(clients, auth, "title_office", code=legal, name="早期企业", kind="unit", parent=DEPT1),
        422,
        "code",
        "check_character",
    )
    problem(
        register(clients, auth, "dept1", code=legal, name="早期企业", kind="unit", parent=DEPT1, override_reason="x"),
        422,
        "code",
        "check_character",
    )
    ok = register(
        clients,
        auth,
        "title_office",
        code=legal,
        name="早期企业",
        kind="unit",
        parent=DEPT1,
        override_reason="早期赋码，经核实合法",
    )
    assert ok.status_code == 201 and ok.get_json()["check_override"] is True
    event = outbox(demo["profile"], "profile.organisation.registered.v1")[-1]["data"]
    assert (event["code"], event["check_override"]) == (legal, True)
    from services.profile.models import Organisation

    with demo["profile"].uow(readonly=True) as uow:
        org = uow.session.get(Organisation, legal)
        assert (org.override_reason, org.override_by) == ("早期赋码，经核实合法", "title_office")
    problem(
        register(clients, auth, "title_office", code="9135010OM0001TGQXM", name="x", kind="unit", override_reason="x"),
        422,
        "code",
        "format",
    )


def test_a_department_registers_units_under_itself_only(clients, auth, demo):
    ok = register(clients, auth, "dept1", code=TENCENT, name="天津某科技公司", kind="unit", parent=DEPT1)
    assert ok.status_code == 201, ok.get_json()
    problem(
        register(clients, auth, "dept1", code=HUAWEI, name="x", kind="unit", parent=DEPT2),
        403,
        "parent",
        "own_department",
    )
    problem(
        register(clients, auth, "dept1", code=HUAWEI, name="x", kind="department", parent=DEPT1),
        403,
        "parent",
        "own_department",
    )
    # and cannot take over a unit of another department
    problem(
        register(clients, auth, "dept2", code=TENCENT, name="x", kind="unit", parent=DEPT2),
        403,
        "code",
        "own_department",
    )


def test_committees_carry_their_organisation_and_authorised_scope(clients, auth, demo):
    response = register(
        clients,
        auth,
        "title_office",
        code=ALIBABA,
        name="某集团自主评审委员会",
        kind="committee",
        owner=UNIT,
        scope={"series": ["工程"], "levels": ["中级", "副高级"], "specialties": ["软件工程"]},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["owner"] == UNIT and response.get_json()["scope"]["levels"] == ["中级", "副高级"]
    event = outbox(demo["profile"], "profile.organisation.registered.v1")[-1]["data"]
    assert (event["owner"], event["scope"]["specialties"]) == (UNIT, ["软件工程"])
    problem(
        register(clients, auth, "title_office", code=ALIBABA, name="x", kind="committee", scope={"levels": ["特级"]}),
        422,
        "scope.levels",
        "one_of",
    )
    problem(
        register(
            clients, auth, "title_office", code=HUAWEI, name="x", kind="unit", parent=DEPT1, scope={"series": ["工程"]}
        ),
        422,
        "scope",
        "committee_only",
    )
    problem(
        register(clients, auth, "title_office", code=HUAWEI, name="x", kind="committee", owner=HUAWEI),
        422,
        "owner",
        "registered_organisation",
    )
    problem(
        register(clients, auth, "title_office", code=HUAWEI, name="x", kind="unit", parent=UNIT),
        422,
        "parent",
        "parent_department",
    )


def test_the_department_chain_is_read_from_the_directory(clients, auth, demo):
    chain = clients["profile"].get(f"/api/v1/organisations/{UNIT}/chain", headers=auth("unit")).get_json()
    assert [o["code"] for o in chain] == [DEPT1, DEPT2]
    units = clients["profile"].get(f"/api/v1/organisations?kind=unit&parent={DEPT1}", headers=auth("unit"))
    assert [o["code"] for o in units.get_json()["items"]] == [UNIT]


def test_a_department_cannot_be_put_below_itself(clients, auth, demo):
    problem(
        register(
            clients, auth, "title_office", code=DEPT2, name="天津市工业和信息化局", kind="department", parent=DEPT1
        ),
        422,
        "parent",
        "no_cycle",
    )


def test_staff_accounts_are_bound_to_one_organisation_and_role(clients, auth, demo):
    staff = clients["profile"].get(f"/api/v1/organisations/{COMMITTEE}/staff", headers=auth("committee"))
    assert {(s["subject"], s["role"]) for s in staff.get_json()["items"]} == {
        ("committee", "committee"),
        ("expert1", "expert"),
        ("expert2", "expert"),
        ("expert3", "expert"),
    }
    problem(
        clients["profile"].get(f"/api/v1/organisations/{UNIT}/staff", headers=auth("committee")),
        403,
        "code",
        "own_organisation",
    )
    office = Api(clients["profile"], auth("title_office"))
    problem(
        office("post", f"/organisations/{UNIT}/staff", json={"subject": "u2", "name": "x", "role": "expert"}),
        422,
        "role",
        "fits_organisation",
    )
    problem(
        office("post", f"/organisations/{UNIT}/staff", json={"subject": "expert1", "name": "x", "role": "unit"}),
        409,
        "subject",
        "one_organisation",
    )
    assert (
        office(
            "post", f"/organisations/{UNIT}/staff", json={"subject": "u2", "name": "赵六", "role": "unit"}
        ).status_code
        == 201
    )
    # a department keeps the accounts of its own units only
    dept1 = Api(clients["profile"], auth("dept1"))
    assert (
        dept1("post", f"/organisations/{UNIT}/staff", json={"subject": "u3", "name": "x", "role": "unit"}).status_code
        == 201
    )
    problem(
        dept1("post", f"/organisations/{COMMITTEE}/staff", json={"subject": "e9", "name": "x", "role": "expert"}),
        403,
        "code",
        "own_organisation",
    )


def test_a_staff_account_is_read_by_the_title_office_or_itself_and_the_directory_lists_them_all(clients, auth, demo):
    profile = clients["profile"]
    own = profile.get("/api/v1/staff/expert2", headers=auth("expert2")).get_json()
    assert (own["subject"], own["role"], own["organisation"]) == ("expert2", "expert", COMMITTEE)
    problem(profile.get("/api/v1/staff/expert2", headers=auth("expert1")), 403, "subject", "own_account")
    problem(profile.get("/api/v1/staff/nobody", headers=auth("title_office")), 404, "subject", "exists")
    # the demonstration's staff kept only in the directory (signed in from it by the development issuer)
    listed = profile.get("/api/v1/staff?per_page=100", headers=auth("title_office")).get_json()
    subjects = {s["subject"]: s for s in listed["items"]}
    assert {"unit", "committee", "inst_committee", "inst_expert1", "tj_kjj"} <= set(subjects)
    assert subjects["inst_unit"]["organisation"] == "12120103MB0098760T"
    assert profile.get("/api/v1/staff", headers=auth("unit")).status_code == 403


def test_the_demonstration_has_a_four_level_department_chain(clients, auth, demo):
    chain = clients["profile"].get("/api/v1/organisations/12120103MB0098760T/chain", headers=auth("unit")).get_json()
    assert [o["name"] for o in chain] == [
        "天津市河西区友谊路街道科技服务中心",
        "天津市河西区科学技术局",
        "天津市河西区人民政府",
        "天津市科学技术局",
    ]
