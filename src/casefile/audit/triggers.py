"""The ledger's guards: triggers that make its tables append-only (`core.append_only`), on
SQLite and PostgreSQL, letting through only the sequencer's UPDATE — an entry's `seq`,
`prev_hash` and `hash`, set once from NULL, with every other column unchanged — and, on
PostgreSQL, event triggers refusing DROP and ALTER of the ledger's tables.
"""

from casefile.core.append_only import AllowedUpdate, Guard

APPEND_ONLY_TABLES = ("audit_entry", "audit_checkpoint", "audit_segment")
# PostgreSQL event triggers refusing DROP and ALTER of the ledger's tables and triggers.
EVENT_TRIGGERS = ("casefile_ledger_no_drop", "casefile_ledger_no_alter")

CHAIN_COLUMNS = ("seq", "prev_hash", "hash")
# Every audit_entry column the sequencer must leave as it is, named one by one: a row
# comparison costs far less per entry than comparing whole rows as JSON.
CONTENT_COLUMNS = ("id", "created_at", "actor_user_id", "actor_email", "actor_role",
                   "ip_address", "user_agent", "action", "risk", "resource", "target_tenant_id",
                   "target_user_id", "reason_code", "ticket_ref", "details", "metadata")

GUARD = Guard(
    function="casefile_refuse_ledger_change", what="audit ledger is append-only",
    tables=APPEND_ONLY_TABLES,
    # The sequencer placing a committed entry in the chain, once.
    allowed_update={"audit_entry": AllowedUpdate(
        moves=tuple((c, "IS NULL", "IS NOT NULL") for c in CHAIN_COLUMNS),
        kept=CONTENT_COLUMNS)})


_PG_DDL_FUNCTION = r"""
CREATE OR REPLACE FUNCTION casefile_refuse_ledger_ddl() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  obj record;
  ledger constant text := '(audit_entry|audit_checkpoint|audit_segment)';
BEGIN
  IF TG_EVENT = 'sql_drop' THEN
    FOR obj IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
      IF (obj.object_type = 'table' AND obj.object_name ~ ('^' || ledger || '$'))
         OR (obj.object_type = 'trigger'
             AND obj.object_identity ~ (' on ([a-z_]+\.)?' || ledger || '$')) THEN
        RAISE EXCEPTION 'audit ledger: % of % refused', TG_TAG, obj.object_identity
          USING ERRCODE = 'insufficient_privilege';
      END IF;
    END LOOP;
  ELSE
    -- A rename reports the table under its new name: the statement still names the old one.
    FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
      IF obj.object_type = 'table'
         AND (obj.object_identity ~ ('^([a-z_]+\.)?' || ledger || '$')
              OR current_query() ~* ('\m' || ledger || '\M')) THEN
        RAISE EXCEPTION 'audit ledger: % of % refused', TG_TAG, obj.object_identity
          USING ERRCODE = 'insufficient_privilege';
      END IF;
    END LOOP;
  END IF;
END
$$;
"""


def ddl_guard_install_sql() -> list[str]:
    """PostgreSQL only, and only a superuser may create event triggers: the migration that
    installs them skips (and verify reports them absent) where the migrating role cannot."""
    return [
        _PG_DDL_FUNCTION,
        f"CREATE EVENT TRIGGER {EVENT_TRIGGERS[0]} ON sql_drop "
        "EXECUTE FUNCTION casefile_refuse_ledger_ddl();",
        f"CREATE EVENT TRIGGER {EVENT_TRIGGERS[1]} ON ddl_command_end WHEN TAG IN ('ALTER TABLE') "
        "EXECUTE FUNCTION casefile_refuse_ledger_ddl();",
    ]


def ddl_guard_uninstall_sql() -> list[str]:
    return [*(f"DROP EVENT TRIGGER IF EXISTS {name};" for name in EVENT_TRIGGERS),
            "DROP FUNCTION IF EXISTS casefile_refuse_ledger_ddl();"]


def ddl_guard_switch_sql(*, enable: bool) -> str:
    """Switch the DDL guard, where it is installed (a superuser's act: see docs/audit-ledger.md
    for a migration that must alter a ledger table)."""
    verb = "ENABLE" if enable else "DISABLE"
    # Only constants of this module are spliced in; nothing comes from outside.
    return ("DO $$ BEGIN " + " ".join(  # noqa: S608
        f"IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '{name}') THEN "  # noqa: S608
        f"ALTER EVENT TRIGGER {name} {verb}; END IF;" for name in EVENT_TRIGGERS) + " END $$;")


def install_sql(vendor: str) -> list[str]:
    statements = GUARD.install_sql(vendor)
    return [*statements, ddl_guard_switch_sql(enable=True)] if vendor == "postgresql" \
        else statements


def uninstall_sql(vendor: str) -> list[str]:
    statements = GUARD.uninstall_sql(vendor)
    return [ddl_guard_switch_sql(enable=False), *statements] if vendor == "postgresql" \
        else statements


def guard_state(connection) -> dict[str, object]:
    """What guards the ledger's tables right now, for verify's report: the append-only triggers
    present and enabled on each table and, on PostgreSQL, whether the DDL event trigger is on and
    whether this session bypasses triggers (`session_replication_role = replica`)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relname = ANY(%s)",
                [list(APPEND_ONLY_TABLES)])
            rows = cursor.fetchall()
            cursor.execute("SELECT evtname, evtenabled FROM pg_event_trigger "
                           "WHERE evtname = ANY(%s)", [list(EVENT_TRIGGERS)])
            events = dict(cursor.fetchall())
            cursor.execute("SHOW session_replication_role")
            role = cursor.fetchone()[0]
            extra: dict[str, object] = {
                "ddl_guard": {name: ("absent" if name not in events else
                                     "disabled" if events[name] == "D" else "enabled")
                              for name in EVENT_TRIGGERS},
                # `replica` turns every ordinary trigger off for that session: only a
                # superuser can set it, which the app's role must not be.
                "session_replication_role": role,
            }
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            rows = [r for r in cursor.fetchall() if r[0] in APPEND_ONLY_TABLES]
            extra = {}
    tables = {table: sorted(name for t, name in rows if t == table) for table in
              APPEND_ONLY_TABLES}
    expected = 2  # UPDATE and DELETE on SQLite; row and TRUNCATE triggers on PostgreSQL
    return {"tables": tables,
            "append_only": all(len(names) >= expected for names in tables.values()),
            **extra}
