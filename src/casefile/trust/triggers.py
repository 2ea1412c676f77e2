"""The trust app's histories are append-only (DESIGN 9.1, `core.append_only`): a risk score's
changes, a verification case's moves, the strike ledger and the restrictions its ladder
applied and lifted are only ever added to, on SQLite and PostgreSQL."""

from casefile.core.append_only import Guard

APPEND_ONLY_TABLES = ("trust_risk_score_change", "trust_verification_change", "trust_strike",
                      "trust_restriction_change")
GUARD = Guard(function="casefile_refuse_trust_history_change",
              what="trust history is append-only", tables=APPEND_ONLY_TABLES)
install_sql, uninstall_sql = GUARD.install_sql, GUARD.uninstall_sql
