"""The declaration service: activities, declarations and the review trail they mirror."""

from __future__ import annotations

import datetime as dt
import json
import time

import jwt
import pytest
from sqlalchemy import select

from shared.contracts.profile import Snapshot
from shared.contracts.review import StageChanged
from tests.conftest import wait_for

ACTIVITY = "5d6f1a52-3c1e-4a8e-9a3e-2026e0000001"
COMMITTEE = "12120000MB1234567L"
UNIT = "91120101MA05K1XT13"
DECLARATION = {
    "activity_id": ACTIVITY,
    "level": "副高级",
    "specialty": "软件工程",
    "qualification_name": "高级工程师",
    "category": "normal",
}


def outbox(db, message_type: str) -> list[dict]:
    model = db.outbox_model
    with db.uow(readonly=True) as uow:
        rows = uow.session.scalars(select(model).where(model.type == message_type).order_by(model.seq))
        return [json.loads(row.body) for row in rows]


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


def activities(clients, auth, **query):
    return clients["declaration"].get("/api/v1/activities", headers=auth("applicant"), query_string=query)


def declare(clients, headers, **changes):
    return clients["declaration"].post("/api/v1/declarations", headers=headers, json={**DECLARATION, **changes})


# What the demo activity requires for submission: in this declaration's copy of the profile
# (the profile service's sections) what the profile reported missing and the eligibility data,
# then one project item and the work summary.
ELIGIBLE = {
    "basic": {
        "gender": "male",
        "date_of_birth": "1988-06-12",
        "mobile": "13800138000",
        "photo_id": "photo-in-the-snapshot",
    },
    "educations": [{"level": "bachelor", "before_work": True}],
    "qualification": {
        "specialty": "软件工程",
        "first_professional_work_date": "2013-07-15",
        "non_professional_years": 0,
        "appointment": {"proof_kind": "appointment_letter", "proof_id": "letter"},
    },
    "certificates": [{"kind": "title", "name": "工程师", "level": "中级", "issued_on": "2015-07-01"}],
    # every year a test clock may look back on: competent, 96 hours of which 64 specialist
    "annual_assessments": [{"year": year, "result": "competent"} for year in range(2016, 2036)],
    "continuing_education": [{"year": year, "hours": 96, "specialist_hours": 64} for year in range(2016, 2036)],
}
# The files ELIGIBLE refers to, as the profile's attachment events make them the applicant's.
ELIGIBLE_FILES = ("photo-in-the-snapshot", "letter")
COMPLETE = {"snapshot": ELIGIBLE, "materials": {"work_summary": {"fields": {"summary": "十年软件研发"}}}}
PROJECT = {"item_type": "project", "fields": {"title": "城市职称系统", "role": "负责人"}, "representative": True}


def own_files(db, owner: str, *ids: str) -> None:
    """The profile's profile.attachment.stored.v1 for each file, processed by the declaration's consumer."""
    from services.declaration import handlers
    from shared.messaging import topology
    from shared.messaging.consumer import process
    from shared.messaging.envelope import Envelope

    sub = next(s for s in topology.subscriptions_of("declaration") if s.name == "on_attachment_stored")
    for attachment_id in ids:
        data = {
            "id": attachment_id,
            "owner": owner,
            "sha256": "0" * 64,
            "content_type": "application/pdf",
            "size": 10,
            "name": f"{attachment_id}.pdf",
            "uploaded_at": "2026-03-01T09:00:00+00:00",
        }
        env = Envelope(type="profile.attachment.stored.v1", source="profile", data=data)
        assert process(db, sub, env, handlers.HANDLERS[env.type]) in ("done", "duplicate")


def fill(clients, headers, declaration_id: str) -> None:
    """Make a draft complete over HTTP, as an applicant would (the applicant user's own files)."""
    own_files(clients["declaration"].application.extensions["titles.database"], "applicant", *ELIGIBLE_FILES)
    url = f"/api/v1/declarations/{declaration_id}"
    response = clients["declaration"].patch(url, headers=headers, json=COMPLETE)
    assert response.status_code == 200, response.get_json()
    response = clients["declaration"].post(url + "/items", headers=headers, json=PROJECT)
    assert response.status_code == 201, response.get_json()


def fill_directly(uow, applicant, declaration_id: str) -> None:
    from services.declaration import content, replicas, service

    for attachment_id in ELIGIBLE_FILES:
        replicas.attachment_stored(uow, applicant.subject, attachment_id=attachment_id)
    declaration, chosen = service.editable(uow, applicant, declaration_id)
    content.update(uow, declaration, chosen, COMPLETE)
    content.save_item(uow, declaration, chosen, PROJECT)


def detail(clients, headers, declaration_id: str) -> dict:
    response = clients["declaration"].get(f"/api/v1/declarations/{declaration_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def other_applicant(data_dir):
    """Headers of a second applicant, signed by the development issuer."""
    from shared.identity import dev_issuer

    kid, key = dev_issuer.signing_key(data_dir)
    now = int(time.time())
    claims = {
        "iss": dev_issuer.default_issuer(),
        "aud": "titles",
        "sub": "applicant2",
        "iat": now,
        "exp": now + 600,
        "role": "applicant",
        "name": "李娜",
        "id_number": "120101199001010028",
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers={'kid': kid})}"}


# -- activities ------------------------------------------------------------------


def test_the_demo_activity_is_listed(clients, auth, demo):
    response = activities(clients, auth)
    assert response.status_code == 200
    [activity] = response.get_json()
    assert activity["id"] == ACTIVITY
    assert activity["mode"] == "social_review" and activity["series"] == "工程"
    assert activity["committee_code"] == COMMITTEE
    assert activity["levels"] == ["副高级"] and "软件工程" in activity["specialties"]
    assert activity["initial_deadline"] == "2099-12-31T23:59:59+08:00"  # end of the day, Beijing time
    assert activity["item_types"][0]["code"] == "project" and activity["defence_levels"] == ["副高级"]
    assert activity["policy_documents"] and activity["schedule"] and activity["exception_conditions"]


# The demonstration's independent review (a committee of its own organisation): seen by the title office,
# not by other organisations' staff.
INDEPENDENT_ACTIVITY = "5d6f1a52-3c1e-4a8e-9a3e-2026e0000002"


@pytest.mark.parametrize(
    "user, seen", [("unit", [ACTIVITY]), ("committee", [ACTIVITY]), ("title_office", [ACTIVITY, INDEPENDENT_ACTIVITY])]
)
def test_any_logged_in_user_sees_activities(clients, auth, demo, user, seen):
    response = clients["declaration"].get("/api/v1/activities", headers=auth(user))
    assert sorted(a["id"] for a in response.get_json()) == seen


def test_activities_need_a_token(clients, demo):
    assert_problem(clients["declaration"].get("/api/v1/activities"), 401)


@pytest.mark.parametrize(
    "key, matching, other",
    [
        ("mode", "social_review", "independent_review"),
        ("series", "工程", "卫生"),
        ("level", "副高级", "正高级"),
        ("specialty", "计算机应用技术", "临床医学"),
        ("qualification_name", "高级工程师", "主任医师"),
        ("category", "lateral_transfer", "enterprise_direct"),
    ],
)
def test_activities_are_filtered(clients, auth, demo, key, matching, other):
    assert [a["id"] for a in activities(clients, auth, **{key: matching}).get_json()] == [ACTIVITY]
    response = activities(clients, auth, **{key: other})
    assert response.status_code == 200 and response.get_json() == []


def test_filters_combine(clients, auth, demo):
    assert len(activities(clients, auth, mode="social_review", level="副高级", specialty="软件工程").get_json()) == 1
    assert activities(clients, auth, mode="social_review", level="正高级").get_json() == []


def test_an_invalid_mode_is_refused(clients, auth, demo):
    body = assert_problem(activities(clients, auth, mode="lottery"), 422, "mode")
    assert body["errors"][0]["in"] == "query"


def test_activities_outside_their_dates_are_not_listed(clients, auth, demo):
    save_past_activity(demo)
    assert [a["id"] for a in activities(clients, auth).get_json()] == [ACTIVITY]


def save_past_activity(dbs, **changes) -> str:
    from services.declaration import service

    fields = {
        "id": "00000000-0000-4000-8000-000000000001",
        "name": "2020年度已结束的评审",
        "mode": "social_review",
        "committee_code": COMMITTEE,
        "committee_name": "天津市工程技术系列高级职称评审委员会",
        "series": "工程",
        "levels": ["副高级"],
        "specialties": ["软件工程"],
        "qualification_names": ["高级工程师"],
        "categories": ["normal"],
        "opens_on": dt.date(2020, 1, 1),
        "initial_deadline": dt.date(2020, 3, 31),
        "modification_deadline": dt.date(2020, 4, 30),
        "consultation_phone": "022-00000000",
        "panel_size": 3,
        **changes,
    }
    with dbs["declaration"].uow() as uow:
        service.save_activity(uow, fields)
        uow.commit()
    return fields["id"]


# -- opening a declaration -------------------------------------------------------


def test_a_declaration_is_accepted_and_asks_for_a_snapshot(clients, auth, demo):
    response = declare(clients, auth("applicant"))
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "preparing" and body["snapshot"] is None
    assert body["mode"] == "social_review" and body["series"] == "工程" and body["specialty"] == "软件工程"
    [command] = outbox(demo["declaration"], "profile.take_snapshot.v1")
    assert command["correlation_id"] == body["id"]
    assert command["data"] == {"declaration_id": body["id"], "applicant": "applicant"}
    assert detail(clients, auth("applicant"), body["id"])["status"] == "preparing"


@pytest.mark.parametrize(
    "key, value",
    [
        ("level", "正高级"),
        ("specialty", "临床医学"),
        ("qualification_name", "主任医师"),
        ("category", "enterprise_direct"),
    ],
)
def test_a_declaration_outside_the_activity_scope_is_refused(clients, auth, demo, key, value):
    response = declare(clients, auth("applicant"), **{key: value})
    assert_problem(response, 422, key, "in_activity_scope")
    assert outbox(demo["declaration"], "profile.take_snapshot.v1") == []


def test_an_unknown_activity_is_not_found(clients, auth, demo):
    response = declare(clients, auth("applicant"), activity_id="00000000-0000-4000-8000-00000000dead")
    assert_problem(response, 404, "activity_id", "exists")


def test_an_activity_outside_its_dates_takes_no_declarations(clients, auth, demo):
    past = save_past_activity(demo)
    response = declare(clients, auth("applicant"), activity_id=past)
    assert_problem(response, 409, "activity_id", "ongoing")
    future = save_past_activity(
        demo,
        id="00000000-0000-4000-8000-000000000002",
        opens_on=dt.date(2098, 1, 1),
        initial_deadline=dt.date(2098, 3, 1),
        modification_deadline=dt.date(2098, 4, 1),
    )
    assert_problem(declare(clients, auth("applicant"), activity_id=future), 409, "activity_id", "ongoing")
    assert outbox(demo["declaration"], "profile.take_snapshot.v1") == []


def test_a_declaration_needs_complete_input(clients, auth, demo):
    response = clients["declaration"].post(
        "/api/v1/declarations", headers=auth("applicant"), json={"activity_id": ACTIVITY}
    )
    body = assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} == {"level", "specialty", "qualification_name", "category"}
    assert {e["rule"] for e in body["errors"]} == {"required"}


@pytest.mark.parametrize("user", ["unit", "committee", "title_office"])
def test_only_applicants_declare(clients, auth, demo, user):
    assert_problem(declare(clients, auth(user)), 403)


def test_submitting_before_the_snapshot_is_refused(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    response = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=auth("applicant"))
    assert_problem(response, 409, "status", "draft_only")
    assert outbox(demo["declaration"], "declaration.submitted.v1") == []


def test_an_unknown_declaration_is_not_found(clients, auth, demo):
    missing = "00000000-0000-4000-8000-00000000beef"
    assert_problem(
        clients["declaration"].get(f"/api/v1/declarations/{missing}", headers=auth("applicant")),
        404,
        "declaration_id",
        "exists",
    )
    assert_problem(
        clients["declaration"].post(f"/api/v1/declarations/{missing}/submit", headers=auth("applicant")), 404
    )


# -- the whole path with the profile service's answer ------------------------------


def employ(clients, auth) -> None:
    response = clients["profile"].post(
        "/api/v1/profile/work-experiences",
        headers=auth("applicant"),
        json={"status": "current", "unit_code": UNIT, "start_date": "2015-07-01"},
    )
    assert response.status_code == 201, response.get_json()


def draft(clients, auth) -> str:
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    wait_for("the snapshot", lambda: detail(clients, auth("applicant"), declaration_id)["status"] == "draft")
    return declaration_id


def test_a_draft_is_submitted_with_its_snapshot(clients, auth, demo, workers):
    employ(clients, auth)
    declaration_id = draft(clients, auth)
    fill(clients, auth("applicant"), declaration_id)
    response = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=auth("applicant"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "submitted"
    assert response.get_json()["submitted_at"]
    [message] = outbox(demo["declaration"], "declaration.submitted.v1")
    assert message["correlation_id"] == declaration_id
    data = message["data"]
    assert data["declaration_id"] == declaration_id and data["applicant"] == "applicant"
    assert (data["applicant_name"], data["id_number"], data["unit_code"]) == ("张伟", "120101198806120032", UNIT)
    assert data["committee_code"] == COMMITTEE and data["panel_size"] == 3
    assert data["activity_id"] == ACTIVITY and data["mode"] == "social_review" and data["category"] == "normal"
    assert data["modification_deadline"] == "2099-12-31"
    settings = data["settings"]
    assert settings["defence_levels"] == ["副高级"] and settings["defence_required"] is True
    assert (settings["vote_threshold_numerator"], settings["vote_threshold_denominator"]) == (2, 3)
    assert settings["publicity_working_days"] == 5 and settings["panel_size"] == 3
    assert settings["service_levels"]["committee_acceptance"] == 5

    again = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=auth("applicant"))
    assert_problem(again, 409, "status", "draft_only")
    assert len(outbox(demo["declaration"], "declaration.submitted.v1")) == 1


def test_a_refused_declaration_cannot_be_submitted(clients, auth, demo, workers):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]  # no profile at all
    refused = wait_for(
        "the refusal", lambda: (d := detail(clients, auth("applicant"), declaration_id))["status"] == "refused" and d
    )
    assert "在职" in refused["refusal_reason"]
    response = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=auth("applicant"))
    assert_problem(response, 409, "status", "draft_only")


def test_another_applicant_cannot_see_or_submit_it(clients, auth, demo, workers, other_applicant):
    employ(clients, auth)
    declaration_id = draft(clients, auth)
    path = f"/api/v1/declarations/{declaration_id}"
    assert_problem(clients["declaration"].get(path, headers=other_applicant), 403, "declaration_id", "own_declaration")
    assert_problem(clients["declaration"].post(path + "/submit", headers=other_applicant), 403)
    mine = clients["declaration"].get("/api/v1/declarations", headers=other_applicant).get_json()
    assert mine["items"] == [] and mine["total"] == 0
    for user in ("unit", "committee"):
        assert_problem(clients["declaration"].get(path, headers=auth(user)), 403)
        assert_problem(clients["declaration"].post(path + "/submit", headers=auth(user)), 403)
    assert detail(clients, auth("applicant"), declaration_id)["status"] == "draft"
    assert outbox(demo["declaration"], "declaration.submitted.v1") == []


# -- my declarations -------------------------------------------------------------


def test_my_declarations_are_paged_newest_first(clients, auth, demo, other_applicant):
    first = declare(clients, auth("applicant")).get_json()["id"]
    another = save_past_activity(
        demo,
        id="00000000-0000-4000-8000-000000000003",
        initial_deadline=dt.date(2099, 1, 1),
        modification_deadline=dt.date(2099, 2, 1),
    )
    second = declare(clients, auth("applicant"), activity_id=another).get_json()["id"]
    declare(clients, other_applicant)
    page1 = clients["declaration"].get("/api/v1/declarations?per_page=1", headers=auth("applicant")).get_json()
    assert page1["total"] == 2 and page1["page"] == 1 and page1["per_page"] == 1
    assert [d["id"] for d in page1["items"]] == [second]
    page2 = clients["declaration"].get("/api/v1/declarations?per_page=1&page=2", headers=auth("applicant")).get_json()
    assert [d["id"] for d in page2["items"]] == [first] and page2["total"] == 2
    page3 = clients["declaration"].get("/api/v1/declarations?per_page=1&page=3", headers=auth("applicant")).get_json()
    assert page3["items"] == [] and page3["total"] == 2
    everything = clients["declaration"].get("/api/v1/declarations", headers=auth("applicant")).get_json()
    assert [d["id"] for d in everything["items"]] == [second, first]


def test_paging_is_validated(clients, auth, demo):
    assert_problem(
        clients["declaration"].get("/api/v1/declarations?per_page=0", headers=auth("applicant")), 422, "per_page"
    )
    assert_problem(clients["declaration"].get("/api/v1/declarations?page=0", headers=auth("applicant")), 422, "page")


# -- the review service's messages ------------------------------------------------


def at(minutes: int) -> str:
    return (dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()


def submitted_declaration(dbs) -> str:
    """A submitted declaration, written directly (the submit path is tested above)."""
    from services.declaration import service
    from shared.identity.principal import Principal

    applicant = Principal(subject="applicant", role="applicant", name="张伟", id_number="120101198806120032")
    with dbs["declaration"].uow() as uow:
        declaration = service.create(uow, applicant, dict(DECLARATION))
        service.snapshot_taken(
            uow,
            declaration.id,
            Snapshot(name="张伟", id_number="120101198806120032", unit_code=UNIT, unit_name="天津市示范科技有限公司"),
        )
        fill_directly(uow, applicant, declaration.id)
        service.submit(uow, applicant, declaration.id)
        uow.commit()
        return declaration.id


def stage(declaration_id: str, name: str, minutes: int, organisation: str | None = UNIT) -> dict:
    return {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "stage": name,
        "stage_name": f"{name} (阶段)",
        "role": "unit",
        "organisation": organisation,
        "at": at(minutes),
    }


def envelope(message_type: str, data: dict):
    from shared.messaging.envelope import Envelope

    return Envelope(type=message_type, source="review", data=data, correlation_id=data["declaration_id"])


def deliver(dbs, env, handler_name: str) -> str:
    """Process one envelope as the declaration service's consumer would."""
    from services.declaration import handlers
    from shared.messaging import topology
    from shared.messaging.consumer import process

    sub = next(s for s in topology.subscriptions_of("declaration") if s.name == handler_name)
    return process(dbs["declaration"], sub, env, handlers.HANDLERS[env.type])


def test_review_messages_move_the_declaration_and_fill_the_trail(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    assert detail(clients, auth("applicant"), declaration_id)["status"] == "submitted"

    deliver(demo, envelope("review.stage.changed.v1", stage(declaration_id, "unit_review", 0)), "on_stage_changed")
    current = detail(clients, auth("applicant"), declaration_id)
    assert current["status"] == "in_review"
    assert (current["stage"], current["stage_name"], current["stage_organisation"]) == (
        "unit_review",
        "unit_review (阶段)",
        UNIT,
    )

    deliver(
        demo,
        envelope(
            "review.decision.recorded.v1",
            {
                "declaration_id": declaration_id,
                "applicant": "applicant",
                "stage": "unit_review",
                "stage_name": "unit_review (阶段)",
                "decision": "approve",
                "reason": None,
                "actor": "unit",
                "organisation": UNIT,
                "at": at(5),
            },
        ),
        "on_decision_recorded",
    )
    deliver(
        demo,
        envelope("review.stage.changed.v1", stage(declaration_id, "committee_review", 6, COMMITTEE)),
        "on_stage_changed",
    )
    current = detail(clients, auth("applicant"), declaration_id)
    assert current["stage"] == "committee_review" and current["stage_organisation"] == COMMITTEE

    deliver(
        demo,
        envelope(
            "review.completed.v1",
            {"declaration_id": declaration_id, "applicant": "applicant", "outcome": "approved", "at": at(60)},
        ),
        "on_review_completed",
    )
    done = detail(clients, auth("applicant"), declaration_id)
    assert done["status"] == "completed" and done["outcome"] == "approved"
    assert done["stage"] == "completed" and done["stage_organisation"] is None
    assert [(t["kind"], t["stage"], t["decision"]) for t in done["trail"]] == [
        ("stage", "unit_review", None),
        ("decision", "unit_review", "approve"),
        ("stage", "committee_review", None),
        ("outcome", None, "approved"),
    ]
    assert done["trail"][1]["actor"] == "unit" and done["trail"][1]["organisation"] == UNIT

    # a stage message arriving after completion is kept in the trail but changes nothing else
    deliver(demo, envelope("review.stage.changed.v1", stage(declaration_id, "late", 30)), "on_stage_changed")
    late = detail(clients, auth("applicant"), declaration_id)
    assert late["status"] == "completed" and late["stage"] == "completed"


def test_handlers_called_directly_in_a_unit_of_work(demo):
    from services.declaration import handlers
    from services.declaration.models import Declaration

    declaration_id = submitted_declaration(demo)
    data = stage(declaration_id, "unit_review", 0)
    with demo["declaration"].uow() as uow:
        handlers.on_stage_changed(uow, envelope("review.stage.changed.v1", data), StageChanged.load(data))
        uow.commit()
    with demo["declaration"].uow(readonly=True) as uow:
        declaration = uow.session.get(Declaration, declaration_id)
        assert declaration.status == "in_review" and declaration.stage == "unit_review"
        assert declaration.stage_at == dt.datetime.fromisoformat(at(0))


def test_a_review_message_writes_the_declaration_only_when_it_changes_something(demo):
    from sqlalchemy import event

    from services.declaration.models import Declaration

    declaration_id = submitted_declaration(demo)
    with demo["declaration"].uow(readonly=True) as uow:
        submitted_at = uow.session.get(Declaration, declaration_id).submitted_at

    def after_submission(minutes: int) -> str:  # this round's messages
        return (submitted_at + dt.timedelta(minutes=minutes)).isoformat()

    def decision(minutes: int) -> dict:
        return {
            "declaration_id": declaration_id,
            "applicant": "applicant",
            "stage": "unit_check",
            "stage_name": "单位审核",
            "decision": "approve",
            "reason": None,
            "actor": "unit",
            "organisation": UNIT,
            "at": after_submission(minutes),
        }

    engine = demo["declaration"].engine
    updates: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if statement.startswith("UPDATE declarations"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        reached = dict(stage(declaration_id, "unit_check", 0), at=after_submission(1))
        deliver(demo, envelope("review.stage.changed.v1", reached), "on_stage_changed")
        assert len(updates) == 1  # in review, at the unit's first stage (not started by it yet)
        with demo["declaration"].uow(readonly=True) as uow:
            at_stage = uow.session.get(Declaration, declaration_id).updated_at
        deliver(demo, envelope("review.decision.recorded.v1", decision(2)), "on_decision_recorded")
        assert len(updates) == 2  # the unit has acted
        with demo["declaration"].uow(readonly=True) as uow:
            before = uow.session.get(Declaration, declaration_id)
        assert before.updated_at > at_stage  # an UPDATE stamps the row, as the column's onupdate would
        deliver(demo, envelope("review.decision.recorded.v1", decision(3)), "on_decision_recorded")
        assert len(updates) == 2  # nothing new for the declaration: its trail entry alone
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    with demo["declaration"].uow(readonly=True) as uow:
        now = uow.session.get(Declaration, declaration_id)
        assert now.unit_started_at == submitted_at + dt.timedelta(minutes=2) and now.updated_at == before.updated_at
        assert (now.status, now.stage, now.stage_at) == (
            "in_review",
            "unit_check",
            submitted_at + dt.timedelta(minutes=1),
        )


def test_stage_messages_out_of_order_keep_the_latest(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    deliver(
        demo,
        envelope("review.stage.changed.v1", stage(declaration_id, "department_review", 10, "111201010000123459")),
        "on_stage_changed",
    )
    deliver(demo, envelope("review.stage.changed.v1", stage(declaration_id, "unit_review", 0)), "on_stage_changed")
    current = detail(clients, auth("applicant"), declaration_id)
    assert current["status"] == "in_review"
    assert current["stage"] == "department_review" and current["stage_organisation"] == "111201010000123459"
    # the trail is in the order things happened, not the order they arrived
    assert [t["stage"] for t in current["trail"]] == ["unit_review", "department_review"]


def test_stage_times_with_other_offsets_compare_as_instants(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    later_in_beijing = dict(stage(declaration_id, "department_review", 0), at="2026-03-01T17:10:00+08:00")  # 09:10 UTC
    deliver(demo, envelope("review.stage.changed.v1", later_in_beijing), "on_stage_changed")
    deliver(demo, envelope("review.stage.changed.v1", stage(declaration_id, "unit_review", 5)), "on_stage_changed")
    assert detail(clients, auth("applicant"), declaration_id)["stage"] == "department_review"


def test_a_redelivered_message_changes_nothing(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    message = envelope("review.stage.changed.v1", stage(declaration_id, "unit_review", 0))
    assert deliver(demo, message, "on_stage_changed") == "done"
    assert deliver(demo, message, "on_stage_changed") == "duplicate"
    decision = envelope(
        "review.decision.recorded.v1",
        {
            "declaration_id": declaration_id,
            "applicant": "applicant",
            "stage": "unit_review",
            "stage_name": "unit_review (阶段)",
            "decision": "return",
            "reason": "材料不全",
            "actor": "unit",
            "organisation": UNIT,
            "at": at(5),
        },
    )
    assert deliver(demo, decision, "on_decision_recorded") == "done"
    assert deliver(demo, decision, "on_decision_recorded") == "duplicate"
    trail = detail(clients, auth("applicant"), declaration_id)["trail"]
    assert [(t["kind"], t["reason"]) for t in trail] == [("stage", None), ("decision", "材料不全")]


def test_the_review_service_moves_a_submitted_declaration(clients, auth, demo, workers):
    """End to end: profile snapshot, submit, and the review service's first stage comes back."""
    employ(clients, auth)
    declaration_id = draft(clients, auth)
    fill(clients, auth("applicant"), declaration_id)
    assert (
        clients["declaration"]
        .post(f"/api/v1/declarations/{declaration_id}/submit", headers=auth("applicant"))
        .status_code
        == 200
    )
    reviewed = wait_for(
        "the first review stage",
        lambda: (d := detail(clients, auth("applicant"), declaration_id))["status"] == "in_review" and d,
    )
    assert reviewed["stage"] and reviewed["trail"][0]["kind"] == "stage"
