"""Scenario steps on the profile service: the applicant's profile, filled until nothing is missing."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

from pypdf import PdfWriter

from scenario.client import Client, ScenarioFailed, system_today
from shared.identity.dev_accounts import fixed_users

DEMO_UNIT = fixed_users()["unit"]["org"]

# Smallest files the service accepts: it judges the type by these signatures.
DEMO_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def demo_pdf(label: str) -> bytes:
    """A small plain PDF (one blank page, ``label`` as its title): attachments must parse as PDFs."""
    document = PdfWriter()
    document.add_blank_page(595, 842)
    document.add_metadata({"/Title": label})
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


DEMO_PDF = demo_pdf("scenario attachment")


def _upload(client: Client, name: str, content: bytes) -> str:
    return client.call(
        "applicant", "POST", "profile", "/api/v1/profile/attachments", expect=(201,), files={"file": (name, content)}
    )["id"]


def ensure_profile(client: Client, step: Callable[[str], None]) -> None:
    today = system_today(client)
    profile = client.call("applicant", "GET", "profile", "/api/v1/profile")
    step(f"applicant {profile['name']} has a profile")
    if not any(w["status"] == "current" for w in profile["work_experiences"]):
        units = client.call("applicant", "GET", "profile", "/api/v1/organisations?kind=unit&per_page=100")["items"]
        if not units:
            raise ScenarioFailed("no work unit is registered; was the demonstration data loaded?")
        # the unit whose reviewer the scenario signs in as (the demo directory has several units)
        units.sort(key=lambda u: u["code"] != DEMO_UNIT)
        client.call(
            "applicant",
            "POST",
            "profile",
            "/api/v1/profile/work-experiences",
            expect=(201,),
            json={
                "status": "current",
                "unit_code": units[0]["code"],
                "role": "led",
                "start_date": (today - dt.timedelta(days=3650)).isoformat(),
                "main_work": "负责软件系统的设计与研发",
            },
        )
        step(f"applicant works at {units[0]['name']}")
    missing = client.call("applicant", "GET", "profile", "/api/v1/profile/completeness")["missing"]
    fields = {(m["section"], m["field"]) for m in missing}
    if ("basic", "photo_id") in fields or ("basic", "mobile") in fields:
        client.call(
            "applicant",
            "PATCH",
            "profile",
            "/api/v1/profile/basic",
            json={"mobile": "13800138000", "photo_id": _upload(client, "photo.png", DEMO_PNG)},
        )
        step("applicant gave a mobile number and a photo")
    if ("educations", "before_work") in fields:
        records = client.call("applicant", "POST", "profile", "/api/v1/profile/educations/import")
        if not records:
            raise ScenarioFailed("the higher-education register has no record of the demo applicant")
        first = min(records, key=lambda e: e["start_date"])
        client.call(
            "applicant",
            "PATCH",
            "profile",
            f"/api/v1/profile/educations/{first['id']}",
            json={"before_work": True, "degree": "bachelor"},
        )
        step(f"applicant imported {len(records)} education records from the register (学信网)")
    if {f for s, f in fields if s == "qualification"}:
        client.call(
            "applicant",
            "PUT",
            "profile",
            "/api/v1/profile/qualification",
            json={
                "specialty": "软件工程",
                "first_professional_work_date": "2013-07-15",
                "non_professional_years": 0,
                "appointment": {
                    "post": "工程师",
                    "appointed_on": "2018-01-01",
                    "proof_kind": "appointment_letter",
                    "proof_id": _upload(client, "appointment.pdf", DEMO_PDF),
                },
            },
        )
        step("applicant gave qualifications and the appointment letter")
    if not any(c["kind"] == "title" for c in profile["certificates"]):
        # The eligibility for 高级工程师 counts the years since 工程师 from this certificate.
        client.call(
            "applicant",
            "POST",
            "profile",
            "/api/v1/profile/certificates",
            expect=(201,),
            json={
                "kind": "title",
                "name": "工程师",
                "level": "中级",
                "obtained_by": "review",
                "issued_on": "2015-07-01",
                "issuer": "天津市人力资源和社会保障局",
                "attachment_id": _upload(client, "title.pdf", DEMO_PDF),
            },
        )
        step("applicant recorded the title certificate 工程师 (2015)")
    years = {
        y["year"]: y for y in client.call("applicant", "GET", "profile", "/api/v1/profile/continuing-education/years")
    }
    recent = range(today.year - 3, today.year)
    for year in (y for y in recent if not years.get(y, {}).get("meets_rule")):
        # 人社部令第25号: at least 90 hours a year, two thirds of them specialist subjects
        client.call(
            "applicant",
            "POST",
            "profile",
            "/api/v1/profile/continuing-education",
            expect=(201,),
            json={"year": year, "hours": 96, "specialist_hours": 64, "content": "专业科目与公需科目"},
        )
        step(f"applicant recorded {year}'s continuing education (96 hours, 64 specialist)")
    completeness = client.call("applicant", "GET", "profile", "/api/v1/profile/completeness")
    if not completeness["ready"]:
        raise ScenarioFailed(
            "the profile is still incomplete: " + " ".join(m["message"] for m in completeness["missing"])
        )
    step("applicant's profile is complete")
