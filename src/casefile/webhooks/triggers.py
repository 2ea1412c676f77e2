"""The webhook log is append-only (DESIGN 9.1), as the ledger is (`core.append_only`): an
UPDATE, DELETE or TRUNCATE raises, on SQLite and PostgreSQL. There is no allowed update: a held
delivery is resolved by a `webhook_resolution` row."""

from casefile.core.append_only import Guard

APPEND_ONLY_TABLES = ("webhook_delivery", "webhook_resolution")
GUARD = Guard(function="casefile_refuse_webhook_log_change",
              what="webhook log is append-only", tables=APPEND_ONLY_TABLES)
install_sql, uninstall_sql = GUARD.install_sql, GUARD.uninstall_sql
