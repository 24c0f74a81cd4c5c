"""complete profile, attachments, directory

Revision ID: 0002_profile_complete
Revises: 0001
Create Date: 2026-11-27 17:31:44.450574
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

revision = "0002_profile_complete"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the new NOT NULL columns of existing rows.
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachments_owner"), ["owner"], unique=False)

    op.create_table(
        "staff_accounts",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("organisation_code", sa.String(length=18), nullable=False),
        sa.Column("created_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_code"],
            ["organisations.code"],
        ),
        sa.PrimaryKeyConstraint("subject"),
    )
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_accounts_organisation_code"), ["organisation_code"], unique=False)

    op.create_table(
        "annual_assessments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject"],
            ["profiles.subject"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "year"),
    )
    with op.batch_alter_table("annual_assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annual_assessments_subject"), ["subject"], unique=False)

    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("obtained_by", sa.String(length=20), nullable=True),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=True),
        sa.Column("attachment_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subject"],
            ["profiles.subject"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_subject"), ["subject"], unique=False)

    op.create_table(
        "continuing_education",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Numeric(precision=6, scale=1, asdecimal=False), nullable=False),
        sa.Column("content", sa.String(length=200), nullable=True),
        sa.Column(
            "attachment_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["subject"],
            ["profiles.subject"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("continuing_education", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_continuing_education_subject"), ["subject"], unique=False)

    op.create_table(
        "educations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("register_id", sa.String(length=64), nullable=True),
        sa.Column("school", sa.String(length=200), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=30), nullable=False),
        sa.Column("degree", sa.String(length=30), nullable=True),
        sa.Column("study_mode", sa.String(length=30), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("before_work", sa.Boolean(), nullable=False),
        sa.Column("overseas", sa.Boolean(), nullable=False),
        sa.Column("certificate_id", sa.String(length=36), nullable=True),
        sa.Column("verification_letter_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["attachments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subject"],
            ["profiles.subject"],
        ),
        sa.ForeignKeyConstraint(
            ["verification_letter_id"],
            ["attachments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "register_id"),
    )
    with op.batch_alter_table("educations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_educations_subject"), ["subject"], unique=False)

    op.create_table(
        "identity_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("old_value", sa.String(length=100), nullable=False),
        sa.Column("new_value", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("corrected_by", sa.String(length=64), nullable=False),
        sa.Column("corrected_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject"],
            ["profiles.subject"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_corrections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_corrections_subject"), ["subject"], unique=False)

    op.create_table(
        "social_posts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("post", sa.String(length=100), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject"],
            ["profiles.subject"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("social_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_posts_subject"), ["subject"], unique=False)

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ownership", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("owner_code", sa.String(length=18), nullable=True))
        batch_op.add_column(
            sa.Column(
                "scope", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("check_override", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("override_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("registered_by", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key("fk_organisations_owner_code", "organisations", ["owner_code"], ["code"])

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_type", sa.String(length=30), nullable=False, server_default="resident_id"))
        batch_op.add_column(sa.Column("gender", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("nationality", sa.String(length=50), nullable=False, server_default="中国"))
        batch_op.add_column(sa.Column("ethnicity", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("political_status", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("telephone", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("admin_post", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("on_establishment", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("admin_post_level", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("foreign_language", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("computer_skill", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("photo_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("specialty", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("school_stage", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("first_professional_work_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "non_professional_years",
                sa.Numeric(precision=4, scale=1, asdecimal=False),
                nullable=False,
                server_default="0",
            )
        )
        batch_op.add_column(
            sa.Column(
                "appointment",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_foreign_key("fk_profiles_photo_id", "attachments", ["photo_id"], ["id"])

    with op.batch_alter_table("work_experiences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("admin_post", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("professional_post", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("role", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("participant_rank", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dispatched", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("dispatched_to", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("dispatch_proof_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column(
                "posts",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="[]",
            )
        )
        batch_op.add_column(sa.Column("main_work", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(
            "fk_work_experiences_dispatch_proof_id", "attachments", ["dispatch_proof_id"], ["id"]
        )

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("work_experiences", schema=None) as batch_op:
        batch_op.drop_constraint("fk_work_experiences_dispatch_proof_id", type_="foreignkey")
        batch_op.drop_column("main_work")
        batch_op.drop_column("posts")
        batch_op.drop_column("dispatch_proof_id")
        batch_op.drop_column("dispatched_to")
        batch_op.drop_column("dispatched")
        batch_op.drop_column("participant_rank")
        batch_op.drop_column("role")
        batch_op.drop_column("professional_post")
        batch_op.drop_column("admin_post")

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_constraint("fk_profiles_photo_id", type_="foreignkey")
        batch_op.drop_column("version")
        batch_op.drop_column("appointment")
        batch_op.drop_column("non_professional_years")
        batch_op.drop_column("first_professional_work_date")
        batch_op.drop_column("school_stage")
        batch_op.drop_column("specialty")
        batch_op.drop_column("photo_id")
        batch_op.drop_column("computer_skill")
        batch_op.drop_column("foreign_language")
        batch_op.drop_column("admin_post_level")
        batch_op.drop_column("on_establishment")
        batch_op.drop_column("admin_post")
        batch_op.drop_column("date_of_birth")
        batch_op.drop_column("telephone")
        batch_op.drop_column("mobile")
        batch_op.drop_column("political_status")
        batch_op.drop_column("ethnicity")
        batch_op.drop_column("nationality")
        batch_op.drop_column("gender")
        batch_op.drop_column("id_type")

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_organisations_owner_code", type_="foreignkey")
        batch_op.drop_column("registered_by")
        batch_op.drop_column("override_by")
        batch_op.drop_column("override_reason")
        batch_op.drop_column("check_override")
        batch_op.drop_column("scope")
        batch_op.drop_column("owner_code")
        batch_op.drop_column("ownership")

    with op.batch_alter_table("social_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_posts_subject"))

    op.drop_table("social_posts")
    with op.batch_alter_table("identity_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_corrections_subject"))

    op.drop_table("identity_corrections")
    with op.batch_alter_table("educations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_educations_subject"))

    op.drop_table("educations")
    with op.batch_alter_table("continuing_education", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_continuing_education_subject"))

    op.drop_table("continuing_education")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_subject"))

    op.drop_table("certificates")
    with op.batch_alter_table("annual_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annual_assessments_subject"))

    op.drop_table("annual_assessments")
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_accounts_organisation_code"))

    op.drop_table("staff_accounts")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_owner"))

    op.drop_table("attachments")
    # ### end Alembic commands ###
