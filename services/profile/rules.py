"""Fixed lists of the profile: the values each field accepts, with the words a person reads."""

from __future__ import annotations

from shared.identifiers import ID_TYPES  # noqa: F401 - the profile's vocabulary, kept with the check

WORK_STATUSES = ("current", "former", "part_time")
ORG_KINDS = ("unit", "department", "committee", "title_office")
OWNERSHIPS = ("public_institution", "state_enterprise", "government", "private", "other")
STATE_OWNED = ("public_institution", "state_enterprise", "government")
GENDERS = ("male", "female")
EDUCATION_LEVELS = ("doctorate", "master", "bachelor", "junior_college", "technical_secondary", "high_school", "other")
DEGREES = ("doctor", "master", "bachelor", "none")
STUDY_MODES = ("full_time", "part_time", "correspondence", "self_study", "online", "other")
CERTIFICATE_KINDS = ("title", "professional_qualification", "skill")
TITLE_LEVELS = ("员级", "助理级", "中级", "副高级", "正高级")
TITLE_OBTAINED_BY = ("review", "appointment", "exam")
PROOF_KINDS = ("appointment_letter", "unit_certificate", "labour_contract")
WORK_ROLES = ("led", "independent", "participant")
ASSESSMENT_RESULTS = ("excellent", "competent", "basically_competent", "incompetent")
# which staff roles may act for which kind of organisation
STAFF_ROLES = {
    "unit": ("unit",),
    "department": ("department",),
    "committee": ("committee", "expert"),
    "title_office": ("title_office",),
}
