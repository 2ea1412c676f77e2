"""The trust app's histories are append-only (DESIGN 9.1, `core.append_only`): a risk score's
changes, a verification case's moves, the strike ledger and the restrictions its ladder
applied and lifted are only ever added to, on SQLite and PostgreSQL."""

from casefile.core.append_only import AllowedUpdate, Guard

APPEND_ONLY_TABLES = ("trust_risk_score_change", "trust_verification_change", "trust_strike",
                      "trust_restriction_change", "trust_moderation_item",
                      "trust_report_submission")
GUARD = Guard(function="casefile_refuse_trust_history_change",
              what="trust history is append-only", tables=APPEND_ONLY_TABLES)
install_sql, uninstall_sql = GUARD.install_sql, GUARD.uninstall_sql


# A published (or retired) rule set version never changes its rules or number: only its status
# moves (published → retired). Drafts are edited freely. DELETE is left to the services (none
# deletes a version), so a test database's flush still works.
RULE_SET_TABLE = "trust_rule_set_version"


def rule_set_freeze_sql(vendor: str) -> list[str]:
    what = "a published rule set version is immutable"
    if vendor == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION casefile_freeze_rule_set() RETURNS trigger\n"
            "LANGUAGE plpgsql AS $$\nBEGIN\n"
            "  IF OLD.status <> 'draft' AND (NEW.rules::jsonb IS DISTINCT FROM OLD.rules::jsonb"
            " OR NEW.version IS DISTINCT FROM OLD.version"
            " OR (OLD.status = 'retired' AND NEW.status <> 'retired')) THEN\n"
            f"    RAISE EXCEPTION '{what}' USING ERRCODE = 'insufficient_privilege';\n"
            "  END IF;\n  RETURN NEW;\nEND\n$$;",
            f"CREATE TRIGGER {RULE_SET_TABLE}_frozen BEFORE UPDATE ON {RULE_SET_TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION casefile_freeze_rule_set();"]
    if vendor == "sqlite":
        return [f"CREATE TRIGGER {RULE_SET_TABLE}_frozen BEFORE UPDATE ON {RULE_SET_TABLE} "
                "WHEN OLD.status <> 'draft' AND (NEW.rules IS NOT OLD.rules "
                "OR NEW.version IS NOT OLD.version "
                "OR (OLD.status = 'retired' AND NEW.status <> 'retired')) "
                f"BEGIN SELECT RAISE(ABORT, '{what}'); END;"]
    raise NotImplementedError(vendor)


def rule_set_unfreeze_sql(vendor: str) -> list[str]:
    drop = [f"DROP TRIGGER IF EXISTS {RULE_SET_TABLE}_frozen"
            + (f" ON {RULE_SET_TABLE};" if vendor == "postgresql" else ";")]
    if vendor == "postgresql":
        drop.append("DROP FUNCTION IF EXISTS casefile_freeze_rule_set();")
    return drop


# A statement of reasons (trust.statements) never changes once written — what it says, what it
# is about, when — and is never deleted; the row is also its own outbox, so its submission
# columns (`StatementRecord.SUBMISSION_FIELDS`) move as it is delivered. Its own function, so
# the trust histories' one is left as the earlier migrations installed it.
STATEMENT_TABLE = "trust_statement"
STATEMENT_KEPT = ("id", "puid", "source_kind", "source_id", "user_id", "statement",
                  "audit_entry_id", "created_at")
STATEMENT_GUARD = Guard(
    function="casefile_refuse_statement_change", what="a statement of reasons never changes",
    tables=(STATEMENT_TABLE,),
    allowed_update={STATEMENT_TABLE: AllowedUpdate(moves=(), kept=STATEMENT_KEPT)})


def _install_all(vendor: str) -> list[str]:
    return [*GUARD.install_sql(vendor), *STATEMENT_GUARD.install_sql(vendor)]


def _uninstall_all(vendor: str) -> list[str]:
    return [*GUARD.uninstall_sql(vendor), *STATEMENT_GUARD.uninstall_sql(vendor)]


# Every guarded trust table, for whoever must lift and restore the guards (a test flush).
APPEND_ONLY_TABLES = (*APPEND_ONLY_TABLES, STATEMENT_TABLE)  # type: ignore[assignment]
install_sql, uninstall_sql = _install_all, _uninstall_all
