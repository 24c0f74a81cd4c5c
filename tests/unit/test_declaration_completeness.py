"""What a declaration's completeness asks of its sections, without a database."""

from __future__ import annotations


def test_a_school_teachers_stage_from_the_profile_counts_in_the_section():
    from services.declaration import content
    from services.declaration.models import Declaration

    declaration = Declaration(
        id="d",
        series="中小学教师",
        category="lateral_transfer",
        snapshot={"qualification": {"school_stage": "初中"}},
        sections={"school_teacher": {"teaching_subject": "数学"}},
    )

    class NoItems:
        session = type(
            "S",
            (),
            {"scalars": staticmethod(lambda query, params=None: []), "get": staticmethod(lambda model, key: None)},
        )()

    errors = content.completeness(NoItems(), declaration, None)
    assert not [e for e in errors if e.field == "sections.school_teacher"], errors
