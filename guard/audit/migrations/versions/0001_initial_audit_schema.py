"""Initial audit schema: events, findings, reviews, users, export cursors, chain head, purge checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 22:17:13.284326
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The one row writers lock to append to the hash chain (see guard/audit/chain.py).
    op.bulk_insert(
        sa.table(
            "audit_chain_head",
            sa.column("id", sa.Integer),
            sa.column("seq", sa.BigInteger),
            sa.column("hash", sa.String),
            sa.column("updated_at", sa.DateTime(timezone=True)),
        ),
        [{"id": 1, "seq": 0, "hash": "0" * 64, "updated_at": datetime.now(UTC)}],
    )
    op.create_table(
        "audit_event",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("destination", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("identity", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("client_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("monitor", sa.Boolean(), nullable=False),
        sa.Column("policy_rules", sa.JSON(), nullable=False),
        sa.Column("classifications", sa.JSON(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("scanned", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("failed", sa.JSON(), nullable=False),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("timings_ms", sa.JSON(), nullable=False),
        sa.Column("upstream_status", sa.Integer(), nullable=True),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("categories", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("review_status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("evidence", sa.LargeBinary(), nullable=True),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_action_time", ["action", "time"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index("ix_audit_event_identity_time", ["identity", "time"], unique=False)
        batch_op.create_index("ix_audit_event_model_time", ["model", "time"], unique=False)
        batch_op.create_index("ix_audit_event_provider_time", ["provider", "time"], unique=False)
        batch_op.create_index("ix_audit_event_review_time", ["review_status", "time"], unique=False)
        batch_op.create_index("ix_audit_event_time", ["time"], unique=False)

    op.create_table(
        "audit_export_cursor",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "audit_purge_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.BigInteger(), nullable=False),
        sa.Column("resume_seq", sa.BigInteger(), nullable=False),
        sa.Column("resume_prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("purge_event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "guard_user",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "audit_finding",
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("entity_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rule_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("preview", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_seq"], ["audit_event.seq"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_finding", schema=None) as batch_op:
        batch_op.create_index("ix_audit_finding_category_event", ["category", "event_seq"], unique=False)
        batch_op.create_index("ix_audit_finding_event", ["event_seq"], unique=False)
        batch_op.create_index("ix_audit_finding_fingerprint", ["fingerprint"], unique=False)

    op.create_table(
        "audit_review",
        sa.Column("disposition", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_seq"], ["audit_event.seq"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_review", schema=None) as batch_op:
        batch_op.create_index("ix_audit_review_event_time", ["event_seq", "time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_review", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_review_event_time")

    op.drop_table("audit_review")
    with op.batch_alter_table("audit_finding", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_finding_fingerprint")
        batch_op.drop_index("ix_audit_finding_event")
        batch_op.drop_index("ix_audit_finding_category_event")

    op.drop_table("audit_finding")
    op.drop_table("guard_user")
    op.drop_table("audit_purge_checkpoint")
    op.drop_table("audit_export_cursor")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_time")
        batch_op.drop_index("ix_audit_event_review_time")
        batch_op.drop_index("ix_audit_event_provider_time")
        batch_op.drop_index("ix_audit_event_model_time")
        batch_op.drop_index("ix_audit_event_identity_time")
        batch_op.drop_index(batch_op.f("ix_audit_event_conversation_id"))
        batch_op.drop_index("ix_audit_event_action_time")

    op.drop_table("audit_event")
    op.drop_table("audit_chain_head")
