"""catalogue activities content lifecycle

Revision ID: 0003_decl_lifecycle
Revises: 0002_returns
Create Date: 2026-11-27 17:31:36.120087
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

revision = "0003_decl_lifecycle"
down_revision = "0002_returns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_series",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column(
            "levels", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "specialties", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "appointable", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "catalogue_terms",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "code"),
    )
    op.create_table(
        "declaration_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("item_type", sa.String(length=50), nullable=False),
        sa.Column(
            "fields", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "attachments", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("representative", sa.Boolean(), nullable=False),
        sa.Column("created_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("declaration_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_declaration_items_declaration_id"), ["declaration_id"], unique=False)

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_organisation", sa.String(length=18), nullable=True))
        batch_op.add_column(
            sa.Column(
                "policy_documents",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "schedule", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "exception_conditions",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "item_types",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "required_materials",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "defence_levels",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "service_levels",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("publicity_working_days", sa.Integer(), nullable=False, server_default="5"))
        batch_op.add_column(sa.Column("vote_numerator", sa.Integer(), nullable=False, server_default="2"))
        batch_op.add_column(sa.Column("vote_denominator", sa.Integer(), nullable=False, server_default="3"))
        # Deadlines become instants: a date closes at 23:59:59 Beijing time that day.
        for column in ("initial_deadline", "modification_deadline"):
            batch_op.alter_column(
                column,
                existing_type=sa.DATE(),
                type_=shared.db.UtcDateTime(timezone=True),
                existing_nullable=False,
                postgresql_using=f"({column} + time '23:59:59') AT TIME ZONE 'Asia/Shanghai'",
            )
    if op.get_bind().dialect.name == "sqlite":
        for column in ("initial_deadline", "modification_deadline"):
            op.execute(
                f"UPDATE activities SET {column} = datetime({column}, '+15 hours', '+59 minutes', "
                f"'+59 seconds') WHERE length({column}) = 10"
            )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        for column in ("publicity_working_days", "vote_numerator", "vote_denominator"):
            batch_op.alter_column(column, existing_type=sa.Integer(), server_default=None)

    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("live_slot", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("unit_claimed_at", shared.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_at", shared.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "eligibility",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "exception_claims",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "employer_proof",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "sections", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "materials",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.alter_column("activity_id", existing_type=sa.VARCHAR(length=36), nullable=True)
        batch_op.create_unique_constraint("uq_declarations_live_slot", ["live_slot"])


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_declarations_live_slot", type_="unique")
        batch_op.alter_column("activity_id", existing_type=sa.VARCHAR(length=36), nullable=False)
        batch_op.drop_column("materials")
        batch_op.drop_column("sections")
        batch_op.drop_column("employer_proof")
        batch_op.drop_column("exception_claims")
        batch_op.drop_column("eligibility")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("unit_claimed_at")
        batch_op.drop_column("live_slot")

    with op.batch_alter_table("activities", schema=None) as batch_op:
        for column in ("initial_deadline", "modification_deadline"):
            batch_op.alter_column(
                column,
                existing_type=shared.db.UtcDateTime(timezone=True),
                type_=sa.DATE(),
                existing_nullable=False,
                postgresql_using=f"({column} AT TIME ZONE 'Asia/Shanghai')::date",
            )
        batch_op.drop_column("vote_denominator")
        batch_op.drop_column("vote_numerator")
        batch_op.drop_column("publicity_working_days")
        batch_op.drop_column("service_levels")
        batch_op.drop_column("defence_levels")
        batch_op.drop_column("required_materials")
        batch_op.drop_column("item_types")
        batch_op.drop_column("exception_conditions")
        batch_op.drop_column("schedule")
        batch_op.drop_column("policy_documents")
        batch_op.drop_column("owner_organisation")

    with op.batch_alter_table("declaration_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declaration_items_declaration_id"))

    op.drop_table("declaration_items")
    op.drop_table("catalogue_terms")
    op.drop_table("catalogue_series")
