"""The documents app's database guards (DESIGN 9.1, 9.5), on SQLite and PostgreSQL alike; each
raises, never silently drops the write (`core.append_only`).

- Sign events are append-only: no UPDATE, DELETE or TRUNCATE.
- Packs and documents are under seven years' retention: never deleted; an UPDATE may move
  their status, envelope and store keys but not what they were generated from.
- A published clause or template version never changes (only `is_active` moves, to withdraw
  it) and is never deleted; drafts are left to the services.
"""

from casefile.core.append_only import AllowedUpdate, Guard

SIGN_EVENT_TABLE = "documents_sign_event"
PACK_TABLE = "documents_pack"
DOCUMENT_TABLE = "documents_document"
FROZEN_TABLES = {
    # Every column but is_active; SQLite names them one by one (a migration adding a column
    # to these tables re-creates the trigger), PostgreSQL compares whole rows.
    "documents_clause": ("id", "name", "version", "city_gate", "role_gate", "body_markdown",
                         "variables_json", "created_by", "created_at", "published_at",
                         "published_by"),
    "documents_template": ("id", "name", "version", "city_gate", "role_gate", "clauses_ordered",
                           "layout_json", "signer_roles", "created_by", "created_at",
                           "published_at", "published_by"),
}

SIGN_EVENT_GUARD = Guard(function="casefile_refuse_sign_event_change",
                         what="sign events are append-only", tables=(SIGN_EVENT_TABLE,))

PACK_KEPT = ("id", "leg_id", "generator_ver", "city", "created_by", "created_at")
DOCUMENT_KEPT = ("id", "pack_id", "position", "template_id", "template_version",
                 "variables_filled", "render_pdf_sha256", "created_at")
RETAINED_GUARD = Guard(
    function="casefile_refuse_document_delete", what="documents are kept under retention",
    tables=(PACK_TABLE, DOCUMENT_TABLE),
    allowed_update={PACK_TABLE: AllowedUpdate(moves=(), kept=PACK_KEPT),
                    DOCUMENT_TABLE: AllowedUpdate(moves=(), kept=DOCUMENT_KEPT)})

_FROZEN = "a published version is immutable"
_FREEZE_FUNCTION = "casefile_freeze_published_version"


def freeze_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = [
            f"CREATE OR REPLACE FUNCTION {_FREEZE_FUNCTION}() RETURNS trigger\n"
            "LANGUAGE plpgsql AS $$\nBEGIN\n"
            "  IF OLD.published_at IS NULL THEN\n"
            "    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;\n    RETURN NEW;\n  END IF;\n"
            "  IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'is_active')"
            " IS NOT DISTINCT FROM (to_jsonb(OLD) - 'is_active') THEN\n    RETURN NEW;\n"
            "  END IF;\n"
            f"  RAISE EXCEPTION '{_FROZEN}: % on % refused', TG_OP, TG_TABLE_NAME\n"
            "    USING ERRCODE = 'insufficient_privilege';\nEND\n$$;"]
        for table in FROZEN_TABLES:
            statements.append(
                f"CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {_FREEZE_FUNCTION}();")
        return statements
    if vendor == "sqlite":
        statements = []
        for table, columns in FROZEN_TABLES.items():
            changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
            statements += [
                f"CREATE TRIGGER {table}_frozen BEFORE UPDATE ON {table} "
                f"WHEN OLD.published_at IS NOT NULL AND ({changed}) "
                f"BEGIN SELECT RAISE(ABORT, '{_FROZEN}: UPDATE on {table} refused'); END;",
                f"CREATE TRIGGER {table}_kept BEFORE DELETE ON {table} "
                "WHEN OLD.published_at IS NOT NULL "
                f"BEGIN SELECT RAISE(ABORT, '{_FROZEN}: DELETE on {table} refused'); END;"]
        return statements
    raise NotImplementedError(vendor)


def unfreeze_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [*(f"DROP TRIGGER IF EXISTS {t}_frozen ON {t};" for t in FROZEN_TABLES),
                f"DROP FUNCTION IF EXISTS {_FREEZE_FUNCTION}();"]
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {t}_{suffix};" for t in FROZEN_TABLES
                for suffix in ("frozen", "kept")]
    raise NotImplementedError(vendor)


def install_sql(vendor: str) -> list[str]:
    return [*SIGN_EVENT_GUARD.install_sql(vendor), *RETAINED_GUARD.install_sql(vendor),
            *freeze_sql(vendor)]


def uninstall_sql(vendor: str) -> list[str]:
    return [*SIGN_EVENT_GUARD.uninstall_sql(vendor), *RETAINED_GUARD.uninstall_sql(vendor),
            *unfreeze_sql(vendor)]


# Every guarded table, for whoever must lift and restore the guards (a test database's flush).
APPEND_ONLY_TABLES = (SIGN_EVENT_TABLE, PACK_TABLE, DOCUMENT_TABLE, *FROZEN_TABLES)
