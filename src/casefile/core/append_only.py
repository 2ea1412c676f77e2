"""Append-only tables, on SQLite and PostgreSQL: triggers that make UPDATE, DELETE and (on
PostgreSQL) TRUNCATE *raise* — an error the caller sees, never a silent no-op (PostgreSQL rules
that `DO INSTEAD NOTHING` would hide bugs and attacks alike).

A `Guard` names its tables and the one kind of UPDATE it lets through, if any: the columns that
must change together from given values (`moves`), with every other column it names (`kept`)
unchanged — the audit ledger's sequencer setting an entry's place in the chain once, a legal
hold's release. The ledger, the webhook log, legal holds and the trust app's histories each
declare one (`<app>/triggers.py`), and their migrations install it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AllowedUpdate:
    """The one UPDATE let through: each `moves` column goes from its first value to its second
    (SQL expressions over the row, e.g. `("seq", "IS NULL", "IS NOT NULL")`), every `kept`
    column stays as it was."""

    moves: tuple[tuple[str, str, str], ...]
    kept: tuple[str, ...]

    def condition(self, vendor: str) -> str:
        """Each kept column compared so that NULLs are equal: SQLite's `IS`, PostgreSQL's `IS
        NOT DISTINCT FROM`. Named one by one: cheaper per row than comparing whole rows."""
        same = "IS NOT DISTINCT FROM" if vendor == "postgresql" else "IS"
        parts = [f"OLD.{c} {old} AND NEW.{c} {new}" for c, old, new in self.moves]
        parts += [f"NEW.{c} {same} OLD.{c}" for c in self.kept]
        return " AND ".join(parts)


@dataclass(frozen=True)
class Guard:
    function: str  # the PostgreSQL trigger function's name
    what: str  # for the error: "audit ledger is append-only"
    tables: tuple[str, ...]
    allowed_update: dict[str, AllowedUpdate] = field(default_factory=dict)

    def install_sql(self, vendor: str) -> list[str]:
        if vendor == "postgresql":
            statements = [self._pg_function()]
            for table in self.tables:
                statements += [
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION {self.function}();",
                    f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {self.function}();",
                ]
            return statements
        if vendor == "sqlite":
            statements = []
            for table in self.tables:
                for op in ("UPDATE", "DELETE"):
                    allowed = self.allowed_update.get(table) if op == "UPDATE" else None
                    when = f" WHEN NOT ({allowed.condition(vendor)})" if allowed else ""
                    statements.append(
                        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}{when} "
                        f"BEGIN SELECT RAISE(ABORT, '{self.what}: {op} on {table} refused'); "
                        "END;")
            return statements
        raise NotImplementedError(f"no append-only triggers for database vendor {vendor!r}")

    def uninstall_sql(self, vendor: str) -> list[str]:
        if vendor == "postgresql":
            statements = []
            for table in self.tables:
                statements += [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
                               f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};"]
            return [*statements, f"DROP FUNCTION IF EXISTS {self.function}();"]
        if vendor == "sqlite":
            return [f"DROP TRIGGER IF EXISTS {table}_no_{op};"
                    for table in self.tables for op in ("update", "delete")]
        raise NotImplementedError(vendor)

    def _pg_function(self) -> str:
        # Nested IFs: PL/pgSQL does not short-circuit, and each table has its own columns.
        allowed = "".join(
            f"  IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = '{table}' THEN\n"
            f"    IF {update.condition('postgresql')} THEN\n      RETURN NEW;\n    END IF;\n"
            "  END IF;\n"
            for table, update in self.allowed_update.items())
        return (f"CREATE OR REPLACE FUNCTION {self.function}() RETURNS trigger\n"
                "LANGUAGE plpgsql AS $$\nBEGIN\n" + allowed
                + f"  RAISE EXCEPTION '{self.what}: % on % refused', TG_OP, TG_TABLE_NAME\n"
                "    USING ERRCODE = 'insufficient_privilege';\nEND\n$$;")
