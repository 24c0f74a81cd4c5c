"""What the declaration service keeps of the profile's events: the directory's committees and their
authorisation (checked when an activity is set up or changed), who owns which attachment (checked
when a draft is saved and submitted), and applicants' current employers (independent review)."""

from __future__ import annotations

import datetime as dt

import pytest

from scenario.profile_steps import demo_pdf
from shared.contracts.declaration import ReturnForRevision
from shared.contracts.profile import AttachmentStored, OrganisationRegistered, Snapshot
from tests.integration.test_declaration import (
    COMMITTEE,
    COMPLETE,
    PROJECT,
    UNIT,
    assert_problem,
    declare,
    detail,
    outbox,
    own_files,
)
from tests.integration.test_declaration_catalogue import NEW_ACTIVITY
from tests.integration.test_declaration_catalogue_tokens import other_committee_headers
from tests.integration.test_declaration_lifecycle import SNAPSHOT, submit

OTHER_COMMITTEE = "12120000MB7654321X"  # the organisation of other_committee_headers()
OWNER = "12120000MB0000001X"  # an institution with its own (independent-review) committee
NAME = "天津市工程技术系列高级职称评审委员会"


def deliver_profile_event(db, message_type: str, handler_name: str, data: dict) -> str:
    from services.declaration import handlers
    from shared.messaging import topology
    from shared.messaging.consumer import process
    from shared.messaging.envelope import Envelope

    sub = next(s for s in topology.subscriptions_of("declaration") if s.name == handler_name)
    env = Envelope(type=message_type, source="profile", data=data)
    return process(db, sub, env, handlers.HANDLERS[env.type])


def organisation_event(
    code: str, name: str = NAME, kind: str = "committee", owner: str | None = None, scope: dict | None = None
) -> dict:
    return {
        "code": code,
        "name": name,
        "kind": kind,
        "parent": None,
        "ownership": None,
        "owner": owner,
        "scope": scope,
        "check_override": False,
    }


def register_committee(
    dbs, code: str, name: str = NAME, owner: str | None = None, scope: dict | None = None, kind: str = "committee"
) -> str:
    scope = scope if scope is not None else {"series": ["工程"], "levels": ["副高级", "正高级"], "specialties": []}
    return deliver_profile_event(
        dbs["declaration"],
        "profile.organisation.registered.v1",
        "on_organisation_registered",
        organisation_event(code, name, kind, owner, scope),
    )


def employment_event(subject: str, unit: str | None, at: str) -> dict:
    return {"subject": subject, "unit_code": unit, "unit_name": unit and f"单位{unit[-4:]}", "at": at}


def create(clients, headers, **changes):
    return clients["declaration"].post("/api/v1/activities", headers=headers, json={**NEW_ACTIVITY, **changes})


# -- committees: the title office's authorisation ------------------------------------------


def test_the_seed_knows_the_demo_committee_and_fills_in_its_name(clients, auth, demo):
    activity = {key: value for key, value in NEW_ACTIVITY.items() if key != "committee_name"}
    response = clients["declaration"].post("/api/v1/activities", headers=auth("committee"), json=activity)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["committee_name"] == NAME and response.get_json()["owner_organisation"] is None


def test_an_unregistered_committee_sets_up_nothing(clients, demo):
    body = assert_problem(
        create(clients, other_committee_headers(), committee_name="另一个评委会"),
        422,
        "committee_code",
        "registered_committee",
    )
    assert OTHER_COMMITTEE in body["errors"][0]["message"]
    register_committee(demo, OTHER_COMMITTEE, name="另一个评委会")
    response = create(clients, other_committee_headers(), committee_name="另一个评委会")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["committee_code"] == OTHER_COMMITTEE


def test_a_committee_registered_under_another_kind_is_no_committee(clients, demo):
    register_committee(demo, OTHER_COMMITTEE, name="另一个评委会")
    register_committee(demo, OTHER_COMMITTEE, name="另一个单位", kind="unit")
    assert_problem(
        create(clients, other_committee_headers(), committee_name=None), 422, "committee_code", "registered_committee"
    )


@pytest.mark.parametrize(
    "field, value, outside",
    [
        ("series", "卫生", "卫生"),
        ("levels", ["副高级", "中级"], "中级"),
    ],
)
def test_an_activity_outside_the_authorised_scope_is_refused(clients, auth, demo, field, value, outside):
    changes = {field: value}
    if field == "series":  # keep the rest consistent with the catalogue's 卫生 series
        changes.update(
            levels=["副高级"], specialties=["临床医学"], qualification_names=["副主任医师"], defence_levels=[]
        )
    else:
        changes.update(qualification_names=["工程师", "高级工程师"], defence_levels=[])
    body = assert_problem(create(clients, auth("committee"), **changes), 422, field, "authorised_scope")
    message = body["errors"][0]["message"]
    assert outside in message and "授权" in message, message


def test_specialties_are_checked_when_the_authorisation_lists_them(clients, auth, demo):
    register_committee(demo, COMMITTEE, scope={"series": ["工程"], "levels": ["正高级"], "specialties": ["软件工程"]})
    assert create(clients, auth("committee")).status_code == 201
    body = assert_problem(
        create(clients, auth("committee"), specialties=["软件工程", "计算机应用技术"]),
        422,
        "specialties",
        "authorised_scope",
    )
    assert "计算机应用技术" in body["errors"][0]["message"]


def test_a_committee_without_authorisation_sets_up_nothing(clients, auth, demo):
    from services.declaration import replicas

    with demo["declaration"].uow() as uow:
        replicas.organisation_registered(uow, OrganisationRegistered.load(organisation_event(COMMITTEE, scope=None)))
        uow.commit()
    assert_problem(create(clients, auth("committee")), 422, "series", "authorised_scope")


def test_the_name_comes_from_the_directory(clients, auth, demo):
    body = assert_problem(
        create(clients, auth("committee"), committee_name="随便一个名字"), 422, "committee_name", "registered_name"
    )
    assert NAME in body["errors"][0]["message"]
    register_committee(demo, COMMITTEE, name="天津市工程技术系列职称评审委员会")  # renamed in the directory
    response = create(clients, auth("committee"), committee_name=None)
    assert response.get_json()["committee_name"] == "天津市工程技术系列职称评审委员会"


def test_a_change_is_checked_against_the_current_authorisation(clients, auth, demo):
    created = create(clients, auth("committee")).get_json()
    register_committee(demo, COMMITTEE, scope={"series": ["工程"], "levels": ["副高级"], "specialties": []})
    response = clients["declaration"].put(
        f"/api/v1/activities/{created['id']}",
        headers=auth("committee"),
        json={**NEW_ACTIVITY, "consultation_phone": "022-3"},
    )
    assert_problem(response, 422, "levels", "authorised_scope")


def test_an_independent_review_belongs_to_the_committees_registered_organisation(clients, auth, demo):
    independent = {"mode": "independent_review"}
    # The demo committee is a social committee: the directory records no organisation for it.
    body = assert_problem(
        create(clients, auth("committee"), **independent), 422, "owner_organisation", "committee_owner"
    )
    assert "自主评审" in body["errors"][0]["message"]
    register_committee(demo, COMMITTEE, owner=OWNER)
    # The request cannot name another organisation...
    assert_problem(
        create(clients, auth("committee"), owner_organisation=UNIT, **independent),
        422,
        "owner_organisation",
        "committee_owner",
    )
    # ...and need not name any.
    response = create(clients, auth("committee"), **independent)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["owner_organisation"] == OWNER
    # A social review belongs to no organisation.
    assert_problem(
        create(clients, auth("committee"), owner_organisation=OWNER),
        422,
        "owner_organisation",
        "independent_review_only",
    )


def test_committee_events_are_idempotent(demo):
    from services.declaration.models import Committee

    data = organisation_event(OTHER_COMMITTEE, owner=OWNER, scope={"series": ["工程"], "levels": ["中级"]})
    assert (
        deliver_profile_event(
            demo["declaration"], "profile.organisation.registered.v1", "on_organisation_registered", data
        )
        == "done"
    )
    from services.declaration import replicas

    with demo["declaration"].uow() as uow:
        # the same effect applied twice (a republished event)
        replicas.organisation_registered(uow, OrganisationRegistered.load(data))
        uow.commit()
    with demo["declaration"].uow(readonly=True) as uow:
        [row] = [c for c in uow.session.query(Committee).all() if c.code == OTHER_COMMITTEE]
        assert (row.owner, row.scope) == (OWNER, {"series": ["工程"], "levels": ["中级"], "specialties": []})


# -- applicants' current employer: independent review before any snapshot ------------------


def independent_activity(clients, auth, demo) -> str:
    register_committee(demo, COMMITTEE, owner=OWNER)
    response = create(clients, auth("committee"), mode="independent_review")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def listed(clients, auth) -> list[str]:
    return [
        a["id"]
        for a in clients["declaration"]
        .get("/api/v1/activities", headers=auth("applicant"), query_string={"mode": "independent_review"})
        .get_json()
    ]


def test_the_announced_employer_shows_independent_reviews_before_any_snapshot(clients, auth, demo):
    activity_id = independent_activity(clients, auth, demo)
    assert listed(clients, auth) == []  # nothing known of the applicant yet
    employed = employment_event("applicant", OWNER, "2026-03-01T09:00:00+00:00")
    assert (
        deliver_profile_event(demo["declaration"], "profile.employment.changed.v1", "on_employment_changed", employed)
        == "done"
    )
    assert listed(clients, auth) == [activity_id]
    assert clients["declaration"].get(f"/api/v1/activities/{activity_id}", headers=auth("applicant")).status_code == 200
    # An older announcement arriving late changes nothing; a newer one (left the unit) does.
    deliver_profile_event(
        demo["declaration"],
        "profile.employment.changed.v1",
        "on_employment_changed",
        employment_event("applicant", UNIT, "2026-02-01T09:00:00+00:00"),
    )
    assert listed(clients, auth) == [activity_id]
    deliver_profile_event(
        demo["declaration"],
        "profile.employment.changed.v1",
        "on_employment_changed",
        employment_event("applicant", None, "2026-04-01T09:00:00+00:00"),
    )
    assert listed(clients, auth) == []
    assert_problem(
        clients["declaration"].get(f"/api/v1/activities/{activity_id}", headers=auth("applicant")),
        404,
        "activity_id",
        "exists",
    )


def test_the_announcement_comes_before_an_older_snapshot(clients, auth, demo):
    from services.declaration import service

    activity_id = independent_activity(clients, auth, demo)
    # An earlier declaration's snapshot says the applicant worked at the owner...
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    with demo["declaration"].uow() as uow:
        service.snapshot_taken(uow, declaration_id, Snapshot.load({**SNAPSHOT, "unit_code": OWNER}))
        uow.commit()
    assert listed(clients, auth) == [activity_id]  # no announcement: the snapshot counts
    # ...the profile has since announced another employer.
    deliver_profile_event(
        demo["declaration"],
        "profile.employment.changed.v1",
        "on_employment_changed",
        employment_event("applicant", UNIT, dt.datetime.now(dt.UTC).isoformat()),
    )
    assert listed(clients, auth) == []


# -- attachments: only the applicant's own files ----------------------------------------------


def drafted_with(demo, clients, auth, snapshot: dict) -> str:
    from services.declaration import service

    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    with demo["declaration"].uow() as uow:
        service.snapshot_taken(uow, declaration_id, Snapshot.load(snapshot))
        uow.commit()
    return declaration_id


def ref(attachment_id: str) -> dict:
    return {"id": attachment_id, "name": f"{attachment_id}.pdf"}


@pytest.mark.parametrize(
    "part, field",
    [
        ("item", "attachments"),
        ("exception_claims", "exception_claims"),
        ("employer_proof", "employer_proof"),
        ("materials", "materials.work_summary"),
        ("snapshot", "snapshot.basic.photo_id"),
    ],
)
def test_saving_someone_elses_file_is_refused(clients, auth, demo, part, field):
    declaration_id = drafted_with(demo, clients, auth, dict(SNAPSHOT))
    own_files(demo["declaration"], "applicant2", "theirs")
    url = f"/api/v1/declarations/{declaration_id}"
    headers = auth("applicant")
    if part == "item":
        response = clients["declaration"].post(
            url + "/items", headers=headers, json={**PROJECT, "attachments": [ref("theirs")]}
        )
    else:
        data = {
            "exception_claims": {
                "category": "seniority_exception",
                "exception_claims": [{"code": "key_project", "proof": [ref("theirs")]}],
            },
            "employer_proof": {"employer_proof": {"attachments": [ref("theirs")], "note": "企业证明"}},
            "materials": {"materials": {"work_summary": {"fields": {"summary": "x"}, "attachments": [ref("theirs")]}}},
            "snapshot": {"snapshot": {"basic": {"photo_id": "theirs"}}},
        }[part]
        response = clients["declaration"].patch(url, headers=headers, json=data)
    body = assert_problem(response, 422, field, "own_attachment")
    assert "theirs" in body["errors"][0]["message"] and "not one of your files (附件)" in body["errors"][0]["message"]
    current = detail(clients, headers, declaration_id)
    assert current["items"] == [] and current["materials"] is None and current["exception_claims"] is None


def test_an_attachment_is_given_by_its_id(clients, auth, demo):
    declaration_id = drafted_with(demo, clients, auth, dict(SNAPSHOT))
    response = clients["declaration"].post(
        f"/api/v1/declarations/{declaration_id}/items",
        headers=auth("applicant"),
        json={**PROJECT, "attachments": [{"name": "论文.pdf"}]},
    )
    assert_problem(response, 422, "attachments", "attachment_reference")


def test_submission_needs_every_file_known_and_the_applicants(clients, auth, demo):
    from services.declaration import replicas

    snapshot = {
        **SNAPSHOT,
        "basic": {"photo_id": "photo-1"},
        "certificates": [{"kind": "title", "name": "工程师", "issued_on": "2015-07-01", "attachment_id": "title-1"}],
        "attachments": [
            {"id": "photo-1", "sha256": "1" * 64, "content_type": "image/png", "size": 5},
            {"id": "title-1", "sha256": "2" * 64, "content_type": "application/pdf", "size": 5},
        ],
    }
    declaration_id = drafted_with(demo, clients, auth, snapshot)
    url = f"/api/v1/declarations/{declaration_id}"
    headers = auth("applicant")
    own_files(demo["declaration"], "applicant", *COMPLETE_FILES)
    assert (
        clients["declaration"]
        .patch(
            url,
            headers=headers,
            json={
                "snapshot": {
                    **COMPLETE["snapshot"],
                    "basic": {**COMPLETE["snapshot"]["basic"], "photo_id": "photo-1"},
                    "certificates": snapshot["certificates"],
                },
                "materials": {
                    "work_summary": {"fields": {"summary": "十年软件研发"}, "attachments": [ref("summary-1")]}
                },
            },
        )
        .status_code
        == 200
    )  # summary-1 is not known yet: saving is fine
    item = clients["declaration"].post(
        url + "/items", headers=headers, json={**PROJECT, "attachments": [ref("paper-1"), ref("photo-1")]}
    )
    assert item.status_code == 201, item.get_json()
    item_id = item.get_json()["id"]

    body = assert_problem(submit(clients, headers, declaration_id), 422)
    problems = {(e["field"], e["rule"]) for e in body["errors"]}
    assert problems == {("materials.work_summary", "known_attachment"), (f"items.{item_id}", "known_attachment")}
    for error in body["errors"]:
        assert "not known" in error["message"] and "try again shortly" in error["message"], error
    assert outbox(demo["declaration"], "declaration.submitted.v1") == []

    # The profile's events arrive: paper-1 is the applicant's, summary-1 someone else's.
    own_files(demo["declaration"], "applicant", "paper-1")
    own_files(demo["declaration"], "applicant2", "summary-1")
    body = assert_problem(submit(clients, headers, declaration_id), 422, "materials.work_summary", "own_attachment")
    assert len(body["errors"]) == 1
    with demo["declaration"].uow() as uow:  # (the profile would never say so; the check still holds)
        replicas.attachment_stored(uow, "applicant", attachment_id="summary-1")
        uow.commit()

    response = submit(clients, headers, declaration_id)
    assert response.status_code == 200, response.get_json()
    [message] = outbox(demo["declaration"], "declaration.submitted.v1")
    ids = message["data"]["attachment_ids"]
    assert sorted(ids) == sorted({"photo-1", "title-1", "letter", "summary-1", "paper-1"})
    assert len(ids) == len(set(ids))
    from shared.contracts import validate_outgoing

    validate_outgoing("declaration.submitted.v1", message["data"])


COMPLETE_FILES = ("letter",)  # COMPLETE's appointment letter


def test_a_resubmission_carries_the_files_of_the_amended_declaration(clients, auth, demo):
    from services.declaration import service

    snapshot = {
        **SNAPSHOT,
        "attachments": [{"id": "photo-in-the-snapshot", "sha256": "1" * 64, "content_type": "image/png", "size": 5}],
    }
    declaration_id = drafted_with(demo, clients, auth, snapshot)
    headers = auth("applicant")
    url = f"/api/v1/declarations/{declaration_id}"
    own_files(demo["declaration"], "applicant", "letter", "award-1")
    assert clients["declaration"].patch(url, headers=headers, json=COMPLETE).status_code == 200
    assert clients["declaration"].post(url + "/items", headers=headers, json=PROJECT).status_code == 201
    assert submit(clients, headers, declaration_id).status_code == 200
    with demo["declaration"].uow() as uow:
        service.returned_for_revision(
            uow,
            ReturnForRevision(
                declaration_id=declaration_id,
                stage="unit_check",
                stage_name="单位审核",
                organisation=UNIT,
                actor="unit",
                reason="补充获奖证明",
                at=dt.datetime.now(dt.UTC).isoformat(),
            ),
        )
        uow.commit()
    added = clients["declaration"].post(
        url + "/items",
        headers=headers,
        json={"item_type": "award", "fields": {"name": "科技进步奖"}, "attachments": [ref("award-1")]},
    )
    assert added.status_code == 201, added.get_json()
    assert submit(clients, headers, declaration_id).status_code == 200
    [first] = outbox(demo["declaration"], "declaration.submitted.v1")
    [again] = outbox(demo["declaration"], "declaration.resubmitted.v1")
    assert set(first["data"]["attachment_ids"]) == {"photo-in-the-snapshot", "letter"}
    assert set(again["data"]["attachment_ids"]) == {"photo-in-the-snapshot", "letter", "award-1"}


def test_attachment_events_are_idempotent_and_a_snapshot_does_not_override_them(demo):
    from services.declaration import replicas

    data = {
        "id": "f-1",
        "owner": "applicant",
        "sha256": "3" * 64,
        "content_type": "application/pdf",
        "size": 7,
        "name": "f.pdf",
        "uploaded_at": "2026-03-01T09:00:00+00:00",
    }
    first = deliver_profile_event(demo["declaration"], "profile.attachment.stored.v1", "on_attachment_stored", data)
    with demo["declaration"].uow() as uow:
        stored = AttachmentStored.load(data)
        replicas.attachment_stored(uow, stored.owner, stored)
        replicas.snapshot_attachments(uow, "applicant2", Snapshot.load({**SNAPSHOT, "attachments": [data]}))
        uow.commit()
    with demo["declaration"].uow(readonly=True) as uow:
        assert first == "done" and replicas.owners(uow, ["f-1", "unknown"]) == {"f-1": "applicant"}


# -- the same, with the events the profile service really publishes ---------------------------------


def test_the_profiles_own_events_reach_the_declaration_service(clients, auth, demo, workers):
    """The title office registers an independent committee, the applicant takes a job at its organisation
    and uploads a file: the declaration service learns all three from the profile's events."""
    import io

    from services.declaration import replicas
    from tests.conftest import wait_for

    registered = clients["profile"].post(
        "/api/v1/organisations",
        headers=auth("title_office"),
        json={
            "code": OTHER_COMMITTEE,
            "name": "天津市示范科技有限公司工程技术职称评审委员会",
            "kind": "committee",
            "owner": UNIT,
            "scope": {"series": ["工程"], "levels": ["副高级"], "specialties": ["软件工程"]},
            "override_reason": "测试用代码",
        },
    )
    assert registered.status_code == 201, registered.get_json()
    activity = {
        **NEW_ACTIVITY,
        "mode": "independent_review",
        "committee_name": None,
        "levels": ["副高级"],
        "qualification_names": ["高级工程师"],
        "defence_levels": [],
    }

    def created():
        response = clients["declaration"].post("/api/v1/activities", headers=other_committee_headers(), json=activity)
        return response.get_json() if response.status_code == 201 else None

    made = wait_for("the committee in the declaration service", created)
    assert made["owner_organisation"] == UNIT and made["committee_name"].startswith("天津市示范科技")
    assert_problem(
        clients["declaration"].post(
            "/api/v1/activities",
            headers=other_committee_headers(),
            json={**activity, "specialties": ["计算机应用技术"]},
        ),
        422,
        "specialties",
        "authorised_scope",
    )

    assert made["id"] not in listed(clients, auth)
    job = clients["profile"].post(
        "/api/v1/profile/work-experiences",
        headers=auth("applicant"),
        json={"status": "current", "unit_code": UNIT, "start_date": "2015-07-01"},
    )
    assert job.status_code == 201, job.get_json()
    wait_for("the announced employer", lambda: made["id"] in listed(clients, auth))

    uploaded = clients["profile"].post(
        "/api/v1/profile/attachments",
        headers=auth("applicant"),
        data={"file": (io.BytesIO(demo_pdf("t")), "t.pdf")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    file_id = uploaded.get_json()["id"]

    def known():
        with demo["declaration"].uow(readonly=True) as uow:
            return replicas.owners(uow, [file_id]).get(file_id)

    assert wait_for("the attachment's owner", known) == "applicant"
