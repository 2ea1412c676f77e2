"""Triggers that keep `holds_legal_hold` append-mostly, on SQLite and PostgreSQL (as the audit
ledger's do, `audit.triggers`): they *raise*, never silently drop a write.

- DELETE (and, on PostgreSQL, TRUNCATE) is refused: a hold is never deleted.
- UPDATE is allowed once per row, for its release: `status` from `active` to `released`, with
  every column a placement wrote (`PLACED_COLUMNS`) unchanged. Nothing else.
"""

TABLE = "holds_legal_hold"
APPEND_ONLY_TABLES = (TABLE,)  # for the tests' flush (tests/conftest.py)
PLACED_COLUMNS = ("id", "kind", "object_id", "reason_code", "ticket_ref", "note", "object_keys",
                  "placed_by_id", "placed_at")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION casefile_legal_hold_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.status = 'active' AND NEW.status = 'released'
       AND ({new}) IS NOT DISTINCT FROM ({old}) THEN
      RETURN NEW;  -- the release, once
    END IF;
  END IF;
  RAISE EXCEPTION 'legal holds are append-mostly: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;
""".replace("{new}", ", ".join(f"NEW.{c}" for c in PLACED_COLUMNS)).replace(
    "{old}", ", ".join(f"OLD.{c}" for c in PLACED_COLUMNS))

_SQLITE_RELEASE = " AND ".join(["OLD.status = 'active'", "NEW.status = 'released'",
                                *(f"NEW.{c} IS OLD.{c}" for c in PLACED_COLUMNS)])


def install_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            _PG_FUNCTION,
            f"CREATE TRIGGER {TABLE}_append_mostly BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION casefile_legal_hold_guard();",
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION casefile_legal_hold_guard();",
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
            f"WHEN NOT ({_SQLITE_RELEASE}) BEGIN SELECT RAISE(ABORT, 'legal holds are "
            f"append-mostly: UPDATE on {TABLE} refused (only a release may change a hold)'); END;",
            f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} BEGIN "
            f"SELECT RAISE(ABORT, 'legal holds are append-mostly: DELETE on {TABLE} refused'); "
            "END;",
        ]
    raise NotImplementedError(f"no triggers for database vendor {vendor!r}")


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {TABLE}_append_mostly ON {TABLE};",
                f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE};",
                "DROP FUNCTION IF EXISTS casefile_legal_hold_guard();"]
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {TABLE}_no_update;",
                f"DROP TRIGGER IF EXISTS {TABLE}_no_delete;"]
    raise NotImplementedError(vendor)
