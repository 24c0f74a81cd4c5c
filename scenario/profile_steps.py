"""Scenario steps on the profile service: the applicant's profile, filled enough to declare."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from scenario.client import Client, ScenarioFailed


def ensure_profile(client: Client, step: Callable[[str], None]) -> None:
    profile = client.call("applicant", "GET", "profile", "/api/v1/profile")
    step(f"applicant {profile['name']} has a profile")
    if not any(w["status"] == "current" for w in profile["work_experiences"]):
        units = [o for o in client.call("applicant", "GET", "profile", "/api/v1/organisations")
                 if o["kind"] == "unit"]
        if not units:
            raise ScenarioFailed("no work unit is registered; was the demonstration data loaded?")
        client.call("applicant", "POST", "profile", "/api/v1/profile/work-experiences", expect=(201,),
                    json={"status": "current", "unit_code": units[0]["code"],
                          "start_date": (dt.date.today() - dt.timedelta(days=3650)).isoformat()})
        step(f"applicant works at {units[0]['name']}")
