"""Changes of the profile after the first entry: records edited in place under the rules of adding them, the
events other services keep (attachments stored, the current employer), and the paginated lists."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from sqlalchemy import select

from scenario.profile_steps import demo_pdf
from tests.conftest import wait_for
from tests.integration.test_profile_rules import other_applicant  # noqa: F401 - a fixture

UNIT = "91120101MA05K1XT13"  # 天津市示范科技有限公司, private
UNIT_NAME = "天津市示范科技有限公司"
DEPT1 = "111201010000123459"
INSTITUTE = "914403001922038216"  # a published credit code, registered below as a public institution
PDF = demo_pdf("changes")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
CURRENT = {"status": "current", "unit_code": UNIT, "start_date": "2015-07-01"}
FORMER = {"status": "former", "unit_name": "北京某研究所", "start_date": "2010-07-01", "end_date": "2015-06-30"}


class Api:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def __call__(self, method: str, path: str, **kw):
        return getattr(self.client, method)("/api/v1" + path, headers=self.headers, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw) -> dict:
        response = self(method, path, **kw)
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def upload(self, content: bytes = PDF, name: str = "file.pdf") -> dict:
        return self.ok(
            "post",
            "/profile/attachments",
            201,
            data={"file": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )


@pytest.fixture
def me(clients, auth, demo):
    return Api(clients["profile"], auth("applicant"))


def problem(response, status: int, field: str, rule: str) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert (body["errors"][0]["field"], body["errors"][0]["rule"]) == (field, rule), body
    return body


def outbox(db, message_type: str) -> list[dict]:
    model = db.outbox_model
    with db.uow(readonly=True) as uow:
        return [
            json.loads(r.body)
            for r in uow.session.scalars(select(model).where(model.type == message_type).order_by(model.seq))
        ]


def employers(db) -> list[tuple]:
    return [(m["data"]["unit_code"], m["data"]["unit_name"]) for m in outbox(db, "profile.employment.changed.v1")]


def register_institute(clients, auth) -> None:
    response = clients["profile"].post(
        "/api/v1/organisations",
        headers=auth("title_office"),
        json={
            "code": INSTITUTE,
            "name": "天津市某研究院",
            "kind": "unit",
            "parent": DEPT1,
            "ownership": "public_institution",
        },
    )
    assert response.status_code == 201, response.get_json()


# -- work experiences edited in place -----------------------------------------------------


def test_a_work_experience_is_changed_in_place_under_the_rules_of_adding_it(me):
    record = me.ok("post", "/profile/work-experiences", 201, json=FORMER)
    path = f"/profile/work-experiences/{record['id']}"
    problem(me("put", path, json={**FORMER, "end_date": "2009-01-01"}), 422, "end_date", "not_before_start")
    problem(me("put", path, json={**FORMER, "main_work": "研" * 501}), 422, "main_work", "max_500_characters")
    problem(me("put", path, json={**FORMER, "role": "participant"}), 422, "participant_rank", "rank_required")
    problem(
        me("put", path, json={**FORMER, "dispatched": True, "dispatched_to": "某医院"}),
        422,
        "dispatch_proof_id",
        "dispatch_proof_required",
    )
    problem(
        me("put", path, json={**FORMER, "posts": [{"start_date": "2009-01-01"}]}),
        422,
        "posts.0.start_date",
        "within_employment",
    )
    problem(
        me("put", path, json={**FORMER, "status": "current", "end_date": None}), 422, "unit_code", "registered_unit"
    )
    problem(me("put", path, json={**FORMER, "unit_code": "91120116MA06C2DD4W"}), 422, "unit_code", "registered_unit")
    changed = me.ok(
        "put",
        path,
        json={
            **FORMER,
            "role": "participant",
            "participant_rank": 2,
            "dispatched": True,
            "dispatched_to": "某医院",
            "dispatch_proof_id": me.upload()["id"],
            "posts": [
                {"start_date": "2010-07-01", "end_date": "2012-12-31", "professional_post": "助工"},
                {"start_date": "2013-01-01", "professional_post": "工程师"},
            ],
            "main_work": "软件研发",
        },
    )
    assert changed["id"] == record["id"]
    assert (changed["participant_rank"], changed["dispatched_to"], changed["main_work"]) == (2, "某医院", "软件研发")
    assert [p["professional_post"] for p in changed["posts"]] == ["助工", "工程师"]
    [kept] = me.ok("get", "/profile")["work_experiences"]
    assert kept == changed


def test_one_current_employment_also_when_changing_a_record(me):
    current = me.ok("post", "/profile/work-experiences", 201, json=CURRENT)
    former = me.ok("post", "/profile/work-experiences", 201, json=FORMER)
    problem(
        me("put", f"/profile/work-experiences/{former['id']}", json={**CURRENT, "start_date": "2010-07-01"}),
        409,
        "status",
        "one_current",
    )
    # the current record itself may be changed and stay current; it takes the registered name
    changed = me.ok(
        "put",
        f"/profile/work-experiences/{current['id']}",
        json={**CURRENT, "unit_name": "typed name", "admin_post": "研发部主任"},
    )
    assert (changed["unit_name"], changed["admin_post"]) == (UNIT_NAME, "研发部主任")
    problem(
        me("put", f"/profile/work-experiences/{current['id']}", json={**CURRENT, "end_date": "2020-01-01"}),
        422,
        "end_date",
        "current_has_no_end",
    )


def test_nobody_changes_another_applicants_record(me, clients, auth, other_applicant):
    record = me.ok("post", "/profile/work-experiences", 201, json=FORMER)
    path = f"/profile/work-experiences/{record['id']}"
    assert Api(clients["profile"], auth("unit"))("put", path, json=FORMER).status_code == 403
    # another applicant is told there is no such record in their profile, whatever they send
    theirs = Api(clients["profile"], other_applicant)
    problem(theirs("put", path, json={**FORMER, "main_work": "改"}), 404, "id", "exists")
    problem(theirs("put", path, json={**FORMER, "end_date": "2000-01-01"}), 404, "id", "exists")
    problem(me("put", "/profile/work-experiences/999999", json=FORMER), 404, "id", "exists")
    assert me.ok("get", "/profile")["work_experiences"] == [record]


def test_the_other_sections_are_changed_in_place_too(me):
    cert = me.ok(
        "post",
        "/profile/certificates",
        201,
        json={
            "kind": "title",
            "name": "工程师",
            "level": "中级",
            "obtained_by": "review",
            "issued_on": "2018-12-01",
            "attachment_id": me.upload()["id"],
        },
    )
    # changing the one title certificate is not a second one; its scan is still required
    higher = {**cert, "name": "高级工程师", "level": "副高级", "issued_on": "2023-12-01"}
    del higher["id"]
    assert me.ok("put", f"/profile/certificates/{cert['id']}", json=higher)["name"] == "高级工程师"
    problem(
        me("put", f"/profile/certificates/{cert['id']}", json={**higher, "attachment_id": None}),
        422,
        "attachment_id",
        "attachment_required",
    )
    other = me.ok(
        "post",
        "/profile/certificates",
        201,
        json={"kind": "skill", "name": "证书", "issued_on": "2019-01-01", "attachment_id": me.upload()["id"]},
    )
    problem(me("put", f"/profile/certificates/{other['id']}", json=higher), 409, "kind", "highest_title_only")

    post = me.ok(
        "post",
        "/profile/social-posts",
        201,
        json={"organisation": "天津市计算机学会", "post": "理事", "start_date": "2020-01-01"},
    )
    problem(
        me(
            "put",
            f"/profile/social-posts/{post['id']}",
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
        me.ok(
            "put",
            f"/profile/social-posts/{post['id']}",
            json={"organisation": "天津市计算机学会", "post": "常务理事", "start_date": "2020-01-01"},
        )["post"]
        == "常务理事"
    )

    education = me.ok(
        "post", "/profile/continuing-education", 201, json={"year": 2024, "hours": 90, "specialist_hours": 50}
    )
    path = f"/profile/continuing-education/{education['id']}"
    problem(
        me("put", path, json={"year": 2024, "hours": 90, "specialist_hours": 95}),
        422,
        "specialist_hours",
        "within_hours",
    )
    assert me.ok("put", path, json={"year": 2024, "hours": 90, "specialist_hours": 60})["specialist_hours"] == 60
    assert me.ok("get", "/profile/continuing-education/years")[0]["meets_rule"] is True

    first = me.ok("post", "/profile/annual-assessments", 201, json={"year": 2023, "result": "competent"})
    second = me.ok("post", "/profile/annual-assessments", 201, json={"year": 2024, "result": "competent"})
    assert (
        me.ok("put", f"/profile/annual-assessments/{first['id']}", json={"year": 2023, "result": "excellent"})["result"]
        == "excellent"
    )
    problem(
        me("put", f"/profile/annual-assessments/{second['id']}", json={"year": 2023, "result": "competent"}),
        409,
        "year",
        "one_per_year",
    )


# -- events: attachments stored, the current employer ------------------------------------------


def test_every_upload_is_announced_with_its_owner_and_hash(me, demo):
    from shared.contracts import validate_outgoing

    document = me.upload(PDF, "../../学历证书.PDF")
    photo = me.upload(PNG, "me.png")
    assert me.ok("patch", "/profile/basic", json={"photo_id": photo["id"]})["photo_id"] == photo["id"]
    messages = outbox(demo["profile"], "profile.attachment.stored.v1")
    assert [m["data"]["id"] for m in messages] == [document["id"], photo["id"]]
    for message, content, record in ((messages[0], PDF, document), (messages[1], PNG, photo)):
        validate_outgoing("profile.attachment.stored.v1", message["data"])
        data = message["data"]
        assert (data["owner"], data["sha256"], data["content_type"], data["size"], data["name"]) == (
            "applicant",
            hashlib.sha256(content).hexdigest(),
            record["content_type"],
            len(content),
            record["name"],
        )
        assert data["uploaded_at"][:19] == record["uploaded_at"][:19]
    assert messages[0]["data"]["name"] == "学历证书.pdf"  # the harmless display name, never a path


def test_a_refused_upload_announces_nothing(me, demo):
    assert (
        me(
            "post",
            "/profile/attachments",
            data={"file": (io.BytesIO(b"GIF89a"), "x.gif")},
            content_type="multipart/form-data",
        ).status_code
        == 422
    )
    assert outbox(demo["profile"], "profile.attachment.stored.v1") == []


def test_the_current_employer_is_announced_whenever_it_changes(me, demo, clients, auth):
    from shared.contracts import validate_outgoing

    db = demo["profile"]
    former = me.ok("post", "/profile/work-experiences", 201, json=FORMER)
    assert employers(db) == []  # a former employer is not the current one
    current = me.ok("post", "/profile/work-experiences", 201, json=CURRENT)
    assert employers(db) == [(UNIT, UNIT_NAME)]
    # changing the current record without changing its unit announces nothing
    me.ok("put", f"/profile/work-experiences/{current['id']}", json={**CURRENT, "admin_post": "主任"})
    me.ok("put", f"/profile/work-experiences/{former['id']}", json={**FORMER, "main_work": "研发"})
    assert employers(db) == [(UNIT, UNIT_NAME)]
    # moving to another registered unit
    register_institute(clients, auth)
    me.ok("put", f"/profile/work-experiences/{current['id']}", json={**CURRENT, "unit_code": INSTITUTE})
    assert employers(db)[-1] == (INSTITUTE, "天津市某研究院")
    # the current record becomes a former one: no current employer
    me.ok(
        "put",
        f"/profile/work-experiences/{current['id']}",
        json={**CURRENT, "unit_code": INSTITUTE, "status": "former", "end_date": "2025-01-01"},
    )
    assert employers(db)[-1] == (None, None)
    # a former record becomes the current one, then is deleted
    me.ok("put", f"/profile/work-experiences/{former['id']}", json={**CURRENT, "start_date": "2010-07-01"})
    assert employers(db)[-1] == (UNIT, UNIT_NAME)
    assert me("delete", f"/profile/work-experiences/{former['id']}").status_code == 204
    assert employers(db)[-1] == (None, None)
    messages = outbox(db, "profile.employment.changed.v1")
    assert len(messages) == 5
    for message in messages:
        validate_outgoing("profile.employment.changed.v1", message["data"])
        assert message["data"]["subject"] == "applicant"
    # deleting a former record changes nothing
    me.ok("post", "/profile/work-experiences", 201, json=CURRENT)
    extra = me.ok("post", "/profile/work-experiences", 201, json=FORMER)
    assert me("delete", f"/profile/work-experiences/{extra['id']}").status_code == 204
    assert len(outbox(db, "profile.employment.changed.v1")) == 6


def test_a_refused_change_announces_nothing(me, demo):
    current = me.ok("post", "/profile/work-experiences", 201, json=CURRENT)
    problem(
        me("put", f"/profile/work-experiences/{current['id']}", json={**CURRENT, "unit_code": DEPT1}),
        422,
        "unit_code",
        "registered_unit",
    )
    assert employers(demo["profile"]) == [(UNIT, UNIT_NAME)]


def test_the_events_are_published(me, demo, workers):
    me.upload()
    me.ok("post", "/profile/work-experiences", 201, json=CURRENT)
    model = demo["profile"].outbox_model

    def published() -> bool:
        with demo["profile"].uow(readonly=True) as uow:
            rows = list(
                uow.session.scalars(
                    select(model).where(
                        model.type.in_(("profile.attachment.stored.v1", "profile.employment.changed.v1"))
                    )
                )
            )
        return len(rows) == 2 and all(row.published_at is not None for row in rows)

    wait_for("the relay to publish both events", published)


# -- paginated lists -------------------------------------------------------------------


def test_my_attachments_come_a_page_at_a_time(me):
    ids = [me.upload(name=f"{i}.pdf")["id"] for i in range(5)]
    first = me.ok("get", "/profile/attachments?per_page=2")
    assert (first["total"], first["page"], first["per_page"]) == (5, 1, 2)
    pages = [first] + [me.ok("get", f"/profile/attachments?per_page=2&page={n}") for n in (2, 3)]
    assert [a["id"] for p in pages for a in p["items"]] == ids
    assert me.ok("get", "/profile/attachments?per_page=2&page=4")["items"] == []
    problem(me("get", "/profile/attachments?per_page=101"), 422, "per_page", "invalid")


def test_the_directory_and_staff_lists_come_a_page_at_a_time(clients, auth, demo):
    directory = Api(clients["profile"], auth("unit"))
    everything = directory.ok("get", "/organisations?per_page=100")
    assert everything["total"] == len(everything["items"]) == 12
    seen = [o["code"] for n in range(1, 7) for o in directory.ok("get", f"/organisations?per_page=2&page={n}")["items"]]
    assert seen == [o["code"] for o in everything["items"]]
    units = [
        o["code"]
        for n in (1, 2, 3)
        for o in directory.ok("get", f"/organisations?kind=unit&per_page=1&page={n}")["items"]
    ]
    assert len(units) == 3 and UNIT in units
    staff = Api(clients["profile"], auth("committee")).ok("get", "/organisations/12120000MB1234567L/staff?per_page=3")
    assert (staff["total"], len(staff["items"])) == (4, 3)
    rest = Api(clients["profile"], auth("committee")).ok(
        "get", "/organisations/12120000MB1234567L/staff?per_page=3&page=2"
    )
    assert {s["subject"] for s in staff["items"] + rest["items"]} == {"committee", "expert1", "expert2", "expert3"}
