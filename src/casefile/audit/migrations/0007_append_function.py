"""PostgreSQL: append an entry in one round trip, under the chain-head lock.

The caller brings the entry's canonical JSON in three pieces around the two values only the
chain head decides (`prev_hash` and `seq`); the function takes the lock, reads the head with a
fresh snapshot (see 0003), hashes the joined bytes and inserts the row. Nothing else runs while
the lock is held, which is what lets concurrent writers commit at the pace of plain inserts
rather than one Python process at a time. It replaces 0003's lock-and-read function.
"""

import importlib

from django.db import migrations

_0003 = importlib.import_module("casefile.audit.migrations.0003_chain_head_function")

CREATE = """
CREATE OR REPLACE FUNCTION casefile_audit_append(
    lock_key bigint, before_prev bytea, before_seq bytea, after_seq bytea,
    p_id text, p_created_at timestamptz, p_actor_user_id text, p_actor_email text,
    p_actor_role text, p_ip_address text, p_user_agent text, p_action text, p_risk text,
    p_resource text, p_target_tenant_id text, p_target_user_id text, p_reason_code text,
    p_ticket_ref text, p_details jsonb, p_metadata jsonb,
    OUT seq bigint, OUT prev_hash text, OUT hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  SELECT e.seq, e.hash INTO seq, prev_hash FROM audit_entry e ORDER BY e.seq DESC LIMIT 1;
  seq := coalesce(seq, 0) + 1;
  prev_hash := coalesce(prev_hash, repeat('0', 64));
  hash := encode(sha256(before_prev || convert_to(prev_hash, 'UTF8') || before_seq
                        || convert_to(seq::text, 'UTF8') || after_seq), 'hex');
  INSERT INTO audit_entry (id, seq, created_at, actor_user_id, actor_email, actor_role,
                           ip_address, user_agent, action, risk, resource, target_tenant_id,
                           target_user_id, reason_code, ticket_ref, details, metadata,
                           prev_hash, hash)
  VALUES (p_id, seq, p_created_at, p_actor_user_id, p_actor_email, p_actor_role, p_ip_address,
          p_user_agent, p_action, p_risk, p_resource, p_target_tenant_id, p_target_user_id,
          p_reason_code, p_ticket_ref, p_details, p_metadata, prev_hash, hash);
END
$$;
"""
DROP = ("DROP FUNCTION IF EXISTS casefile_audit_append(bigint, bytea, bytea, bytea, text, "
        "timestamptz, text, text, text, text, text, text, text, text, text, text, text, text, "
        "jsonb, jsonb);")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)
        schema_editor.execute(_0003.DROP, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)
        schema_editor.execute(_0003.CREATE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_segment_version")]

    operations = [migrations.RunPython(forwards, backwards)]
