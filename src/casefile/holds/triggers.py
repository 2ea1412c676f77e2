"""`holds_legal_hold` is append-mostly (`core.append_only`), on SQLite and PostgreSQL:

- DELETE (and, on PostgreSQL, TRUNCATE) is refused: a hold is never deleted.
- UPDATE is allowed once per row, for its release: `status` from `active` to `released`, with
  every column a placement wrote (`PLACED_COLUMNS`) unchanged. Nothing else.
"""

from casefile.core.append_only import AllowedUpdate, Guard

TABLE = "holds_legal_hold"
APPEND_ONLY_TABLES = (TABLE,)
PLACED_COLUMNS = ("id", "kind", "object_id", "reason_code", "ticket_ref", "note", "object_keys",
                  "placed_by_id", "placed_at")
GUARD = Guard(
    function="casefile_legal_hold_guard", what="legal holds are append-mostly",
    tables=APPEND_ONLY_TABLES,
    allowed_update={TABLE: AllowedUpdate(moves=(("status", "= 'active'", "= 'released'"),),
                                         kept=PLACED_COLUMNS)})
install_sql, uninstall_sql = GUARD.install_sql, GUARD.uninstall_sql
