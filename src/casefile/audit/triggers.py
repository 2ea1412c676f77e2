"""Database triggers that make the ledger's tables append-only, on SQLite and PostgreSQL.

They *raise*: a refused UPDATE or DELETE is an error the caller sees, never a silent no-op
(PostgreSQL rules that `DO INSTEAD NOTHING` would hide bugs and attacks alike).
"""

APPEND_ONLY_TABLES = ("audit_entry", "audit_checkpoint", "audit_segment")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION casefile_refuse_ledger_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def install_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = [_PG_FUNCTION]
        for table in APPEND_ONLY_TABLES:
            statements += [
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION casefile_refuse_ledger_change();",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION casefile_refuse_ledger_change();",
            ]
        return statements
    if vendor == "sqlite":
        statements = []
        for table in APPEND_ONLY_TABLES:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'audit ledger is append-only: {op} on {table} refused');"
                    " END;"
                )
        return statements
    raise NotImplementedError(f"no append-only triggers for database vendor {vendor!r}")


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = []
        for table in APPEND_ONLY_TABLES:
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
            ]
        return [*statements, "DROP FUNCTION IF EXISTS casefile_refuse_ledger_change();"]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_{op};"
            for table in APPEND_ONLY_TABLES
            for op in ("update", "delete")
        ]
    raise NotImplementedError(vendor)
