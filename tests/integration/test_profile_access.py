"""Who may open an applicant's attachments: the owner, the title office, and the organisations a
declaration of the owner has reached (learnt from declaration and review events); nobody else.

Grants are not revoked on withdrawal or completion: the trail keeps the right to see what was reviewed.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from scenario.profile_steps import demo_pdf
from shared.contracts.declaration import Submitted
from shared.contracts.review import StageChanged
from shared.messaging.consumer import process
from shared.messaging.envelope import Envelope
from shared.messaging.topology import subscriptions_of
from tests.conftest import wait_for

UNIT = "91120101MA05K1XT13"
DEPT1 = "111201010000123459"
DEPT2 = "11120000000067890J"
COMMITTEE = "12120000MB1234567L"
OTHER_UNIT = "91120116MA06C2DD4W"
PDF = demo_pdf("access")
STAFF = ("unit", "dept1", "dept2", "committee", "expert1")


@pytest.fixture
def other_applicant(data_dir) -> dict[str, str]:
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


@pytest.fixture
def attachment(clients, auth, demo) -> str:
    """One of the demonstration applicant's uploaded files."""
    response = clients["profile"].post(
        "/api/v1/profile/attachments",
        headers=auth("applicant"),
        data={"file": (io.BytesIO(PDF), "学历证书.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _at() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def submitted(declaration_id: str, applicant: str = "applicant", unit_code: str = UNIT) -> dict[str, Any]:
    return {
        "declaration_id": declaration_id,
        "applicant": applicant,
        "applicant_name": "张伟",
        "id_number": "120101198806120032",
        "unit_code": unit_code,
        "activity_id": "act-2024-eng",
        "committee_code": COMMITTEE,
        "committee_name": "天津市工程技术系列高级职称评审委员会",
        "mode": "social_review",
        "series": "engineering",
        "level": "senior",
        "specialty": "software",
        "qualification_name": "高级工程师",
        "category": "normal",
        "panel_size": 3,
        "submitted_at": _at(),
    }


def stage_changed(
    declaration_id: str, organisation: str | None, stage: str = "dept_review", applicant: str = "applicant"
) -> dict[str, Any]:
    return {
        "declaration_id": declaration_id,
        "applicant": applicant,
        "stage": stage,
        "stage_name": "主管部门审核",
        "role": "department",
        "organisation": organisation,
        "at": _at(),
    }


def envelope(message_type: str, data: dict[str, Any]) -> Envelope:
    return Envelope(
        type=message_type, source=message_type.split(".", 1)[0], data=data, correlation_id=data["declaration_id"]
    )


def deliver(dbs, env: Envelope) -> str:
    """What the profile consumer does with one delivery: the subscription for the type, its handler."""
    from titles import bootstrap

    [sub] = [s for s in subscriptions_of("profile") if env.type in s.types]
    return process(dbs["profile"], sub, env, bootstrap.service("profile").handlers()[env.type])


def status(clients, headers: dict[str, str], attachment_id: str) -> int:
    response = clients["profile"].get(f"/api/v1/attachments/{attachment_id}", headers=headers)
    if response.status_code == 200:
        assert response.data == PDF
    else:
        body = response.get_json()
        assert body["errors"][0]["field"] == "attachment_id", body
    return response.status_code


def seeing(clients, auth, attachment_id: str) -> set[str]:
    """The staff users who may open the attachment now."""
    return {user for user in STAFF if status(clients, auth(user), attachment_id) == 200}


def grant_count(dbs) -> int:
    from services.profile.models import AccessGrant

    with dbs["profile"].uow(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(AccessGrant))


def test_the_owner_reads_and_another_applicant_is_refused(clients, auth, attachment, other_applicant):
    assert status(clients, auth("applicant"), attachment) == 200
    # another applicant is refused without learning that the file exists
    response = clients["profile"].get(f"/api/v1/attachments/{attachment}", headers=other_applicant)
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["rule"] == "exists"


def test_staff_see_nothing_before_a_declaration_and_the_title_office_always(clients, auth, attachment, dbs):
    for user in STAFF:
        response = clients["profile"].get(f"/api/v1/attachments/{attachment}", headers=auth(user))
        assert response.status_code == 403
        assert response.get_json()["errors"][0]["rule"] == "own_profile"
    assert status(clients, auth("title_office"), attachment) == 200
    # a file that does not exist is refused to staff the same way: they learn nothing
    response = clients["profile"].get(f"/api/v1/attachments/{uuid.uuid4()}", headers=auth("unit"))
    assert response.status_code == 403


def test_organisations_see_the_attachments_as_the_declaration_reaches_them(clients, auth, attachment, dbs):
    declaration = str(uuid.uuid4())
    assert seeing(clients, auth, attachment) == set()

    assert deliver(dbs, envelope("declaration.submitted.v1", submitted(declaration))) == "done"
    assert seeing(clients, auth, attachment) == {"unit"}  # the committee waits for its stage

    assert deliver(dbs, envelope("review.stage.changed.v1", stage_changed(declaration, DEPT1))) == "done"
    assert seeing(clients, auth, attachment) == {"unit", "dept1"}

    # a stage without an organisation (e.g. publicity) grants nobody
    assert (
        deliver(dbs, envelope("review.stage.changed.v1", stage_changed(declaration, None, stage="publicity"))) == "done"
    )
    assert seeing(clients, auth, attachment) == {"unit", "dept1"}

    # the committee's stage opens the files to the committee and its experts (their org is the committee)
    assert (
        deliver(dbs, envelope("review.stage.changed.v1", stage_changed(declaration, COMMITTEE, stage="expert_review")))
        == "done"
    )
    assert seeing(clients, auth, attachment) == {"unit", "dept1", "committee", "expert1"}
    # dept2 was never reached: still refused; the title office sees it throughout
    assert status(clients, auth("dept2"), attachment) == 403
    assert status(clients, auth("title_office"), attachment) == 200


def test_a_declaration_of_another_applicant_opens_nothing_here(clients, auth, attachment, dbs):
    other = str(uuid.uuid4())
    deliver(dbs, envelope("declaration.submitted.v1", submitted(other, applicant="applicant-2")))
    deliver(dbs, envelope("review.stage.changed.v1", stage_changed(other, DEPT1, applicant="applicant-2")))
    assert seeing(clients, auth, attachment) == set()
    # and a declaration of this applicant at another unit does not open it to the demonstration unit
    deliver(dbs, envelope("declaration.submitted.v1", submitted(str(uuid.uuid4()), unit_code=OTHER_UNIT)))
    assert seeing(clients, auth, attachment) == set()


def test_a_redelivered_event_changes_nothing(clients, auth, attachment, dbs):
    declaration = str(uuid.uuid4())
    env = envelope("declaration.submitted.v1", submitted(declaration))
    assert deliver(dbs, env) == "done"
    assert grant_count(dbs) == 1
    assert deliver(dbs, env) == "duplicate"
    assert grant_count(dbs) == 1
    # another message saying the same (a resubmission after a return, a stage announced again)
    assert deliver(dbs, envelope("declaration.resubmitted.v1", submitted(declaration))) == "done"
    stage = stage_changed(declaration, DEPT1)
    assert deliver(dbs, envelope("review.stage.changed.v1", stage)) == "done"
    assert deliver(dbs, envelope("review.stage.changed.v1", stage)) == "done"
    assert grant_count(dbs) == 2
    assert seeing(clients, auth, attachment) == {"unit", "dept1"}


def test_the_events_reach_the_profile_service_through_the_broker(clients, auth, attachment, dbs, workers):
    declaration = str(uuid.uuid4())
    with dbs["review"].uow() as uow:
        uow.publish(StageChanged(**stage_changed(declaration, DEPT1)), correlation_id=declaration)
        uow.commit()
    wait_for("the department's grant", lambda: grant_count(dbs) == 1)
    assert status(clients, auth("dept1"), attachment) == 200


# -- grants narrowed to what the declaration refers to ---------------------------------------


def upload(clients, auth, name: str = "材料.pdf") -> str:
    response = clients["profile"].post(
        "/api/v1/profile/attachments",
        headers=auth("applicant"),
        data={"file": (io.BytesIO(PDF), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_a_grant_opens_only_the_attachments_its_declaration_refers_to(clients, auth, attachment, dbs):
    unreferenced = upload(clients, auth)
    declaration = str(uuid.uuid4())
    deliver(dbs, envelope("declaration.submitted.v1", {**submitted(declaration), "attachment_ids": [attachment]}))
    assert status(clients, auth("unit"), attachment) == 200
    response = clients["profile"].get(f"/api/v1/attachments/{unreferenced}", headers=auth("unit"))
    assert response.status_code == 403
    assert (response.get_json()["errors"][0]["field"], response.get_json()["errors"][0]["rule"]) == (
        "attachment_id",
        "own_profile",
    )
    # each organisation the declaration reaches opens the same files and no others
    deliver(dbs, envelope("review.stage.changed.v1", stage_changed(declaration, DEPT1)))
    assert seeing(clients, auth, attachment) == {"unit", "dept1"}
    assert seeing(clients, auth, unreferenced) == set()
    # the title office and the owner still open everything
    assert status(clients, auth("title_office"), unreferenced) == 200
    assert status(clients, auth("applicant"), unreferenced) == 200


def test_resubmissions_add_to_what_the_declaration_refers_to(clients, auth, attachment, dbs):
    added, never = upload(clients, auth), upload(clients, auth)
    declaration = str(uuid.uuid4())
    deliver(dbs, envelope("declaration.submitted.v1", {**submitted(declaration), "attachment_ids": [attachment]}))
    deliver(dbs, envelope("declaration.resubmitted.v1", {**submitted(declaration), "attachment_ids": [added]}))
    # a union: what the first submission referred to stays open with what the resubmission added
    assert seeing(clients, auth, attachment) == seeing(clients, auth, added) == {"unit"}
    # a resubmission from a producer that sends no list changes nothing, and does not widen the grant
    deliver(dbs, envelope("declaration.resubmitted.v1", submitted(declaration)))
    assert seeing(clients, auth, never) == set()
    assert seeing(clients, auth, added) == {"unit"}


def test_a_declaration_referring_to_no_attachments_opens_none(clients, auth, attachment, dbs):
    deliver(dbs, envelope("declaration.submitted.v1", {**submitted(str(uuid.uuid4())), "attachment_ids": []}))
    assert seeing(clients, auth, attachment) == set()


def test_an_older_producer_without_attachment_ids_keeps_the_applicant_wide_grant(clients, auth, attachment, dbs):
    other = upload(clients, auth)
    deliver(dbs, envelope("declaration.submitted.v1", submitted(str(uuid.uuid4()))))  # no attachment_ids
    assert seeing(clients, auth, attachment) == seeing(clients, auth, other) == {"unit"}


def test_referring_to_another_applicants_file_opens_nothing(clients, auth, attachment, dbs):
    # a declaration of applicant-2 that names this applicant's file: grants are per applicant
    deliver(
        dbs,
        envelope(
            "declaration.submitted.v1",
            {**submitted(str(uuid.uuid4()), applicant="applicant-2"), "attachment_ids": [attachment]},
        ),
    )
    assert seeing(clients, auth, attachment) == set()


def test_the_references_reach_the_profile_service_through_the_broker(clients, auth, attachment, dbs, workers):
    unreferenced = upload(clients, auth)
    declaration = str(uuid.uuid4())
    with dbs["declaration"].uow() as uow:
        uow.publish(Submitted(**submitted(declaration), attachment_ids=[attachment]), correlation_id=declaration)
        uow.commit()
    wait_for("the unit's grant", lambda: grant_count(dbs) == 1)
    assert status(clients, auth("unit"), attachment) == 200
    assert status(clients, auth("unit"), unreferenced) == 403
