"""Triggers that make the webhook log append-only (DESIGN 9.1), as the ledger's are
(`casefile.audit.triggers`): an UPDATE, DELETE or TRUNCATE *raises*, on SQLite and PostgreSQL.
There is no allowed update: a held delivery is resolved by a `webhook_resolution` row."""

APPEND_ONLY_TABLES = ("webhook_delivery", "webhook_resolution")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION casefile_refuse_webhook_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'webhook log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
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
                "FOR EACH ROW EXECUTE FUNCTION casefile_refuse_webhook_log_change();",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION casefile_refuse_webhook_log_change();",
            ]
        return statements
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN "
            f"SELECT RAISE(ABORT, 'webhook log is append-only: {op} on {table} refused'); END;"
            for table in APPEND_ONLY_TABLES
            for op in ("UPDATE", "DELETE")
        ]
    raise NotImplementedError(f"no append-only triggers for database vendor {vendor!r}")


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = []
        for table in APPEND_ONLY_TABLES:
            statements += [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
                           f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};"]
        return [*statements, "DROP FUNCTION IF EXISTS casefile_refuse_webhook_log_change();"]
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{op};"
                for table in APPEND_ONLY_TABLES for op in ("update", "delete")]
    raise NotImplementedError(vendor)
