"""Doc pack generation on PostgreSQL: packs of 3 documents of 10 clauses each, generated and
issued for new booking legs (variables checked against every clause's JSON Schema, each clause
rendered through the Jinja2 sandbox, 3 PDFs rendered, hashed and written to the write-once store
with their hash files and retention, the rows and ledger entries committed), one after another;
beside a bare fpdf2 render of the same text in the same run (the same 3 documents as plain
paragraphs in the same font: the floor any PDF of this text costs).

Prints packs per second and p50/p95 of one pack's generation (aim: p95 under 500 ms), and the
ratio to the bare render.

    python bench/documents.py [--packs 100]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _setup import fresh_database  # noqa: E402

DOCUMENTS = 3
CLAUSES = 10
PARAGRAPH = ("The {{ role }} agrees to arrive at {{ leg.city }} on {{ starts_on }} and to "
             "follow the house rules of {{ studio_name }}; the fee of {{ fee_eur }} EUR is "
             "due within {{ payment_days }} days of the session. ")
SCHEMA = {"type": "object",
          "required": ["role", "starts_on", "studio_name", "fee_eur", "payment_days"],
          "properties": {"role": {"type": "string"}, "starts_on": {"type": "string"},
                         "studio_name": {"type": "string", "minLength": 1},
                         "fee_eur": {"type": "number", "minimum": 0},
                         "payment_days": {"type": "integer", "minimum": 1},
                         "leg": {"type": "object", "required": ["city"]}}}
FACTS = {"role": "model", "starts_on": "2026-12-01", "studio_name": "Studio Nord",
         "fee_eur": 450, "payment_days": 14}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packs", type=int, default=100)
    args = parser.parse_args()
    fresh_database("_documents")
    from django.db import connection

    legal, platform = _set_up()
    times = _generate(legal, platform, args.packs)
    bare = _bare(args.packs)
    p50, p95 = _pcts(times)
    b50, b95 = _pcts(bare)
    print(f"doc packs on PostgreSQL ({connection.pg_version // 10000}), {DOCUMENTS} documents of "
          f"{CLAUSES} clauses, {args.packs} packs generated and issued")
    print(f"  pack generation:   {len(times) / sum(times):7.1f} packs/s   p50 {p50:6.1f} ms   "
          f"p95 {p95:6.1f} ms (aim p95 < 500 ms)")
    print(f"  bare fpdf2 render: {len(bare) / sum(bare):7.1f} packs/s   p50 {b50:6.1f} ms   "
          f"p95 {b95:6.1f} ms (the same text, {DOCUMENTS} PDFs, nothing else)")
    print(f"  a pack costs {p95 / b95:5.1f}x the bare render in p95")


def _pcts(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[max(0, round(0.95 * len(ms)) - 1)]


def _set_up():
    from casefile.accounts import services as accounts
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.documents import services

    cli = Actor.system("bench")
    legal = Actor.staff(accounts.staff_user_create(actor=cli, email="legal@bench.local",
                                                   roles=[Role.LEGAL]))
    platform = Actor.staff(accounts.staff_user_create(actor=cli, email="platform@bench.local",
                                                      roles=[Role.PLATFORM]))
    for t in range(DOCUMENTS):
        pinned = []
        for c in range(CLAUSES):
            body = (f"## {t + 1}.{c + 1} Clause {c + 1}\n\n" + PARAGRAPH * 4 + "\n\n"
                    "- the session is recorded in the booking\n- cancellation terms apply\n")
            clause = services.clause_create(actor=legal, name=f"Bench clause {t}-{c}",
                                            body_markdown=body, variables_json=SCHEMA,
                                            reason_code="OPERATIONS")
            clause = services.clause_publish(actor=legal, clause=clause,
                                             reason_code="OPERATIONS")
            pinned.append({"clause_id": clause.id, "version": clause.version, "order": c + 1})
        template = services.template_create(
            actor=legal, name=f"Bench template {t}", clauses_ordered=pinned,
            layout_json={"page_size": "A4", "header": f"Bench template {t}",
                         "footer": "Page {page} of {pages}"},
            signer_roles=[{"role": "buyer", "required": True, "order": 1},
                          {"role": "talent", "required": True, "order": 2}],
            reason_code="OPERATIONS")
        services.template_publish(actor=legal, template=template, reason_code="OPERATIONS")
    return legal, platform


def _generate(legal, platform, packs: int) -> list[float]:
    from casefile.documents import services
    from casefile.documents.models import Document

    times = []
    for i in range(-3, packs):  # three untimed: the first render loads fonts and templates
        leg, _ = services.booking_leg_upsert(
            actor=platform, leg_id=f"leg_bench_{i + 3}", city="BER", provider_role="model",
            parties={"buyer": {"email": "buyer@example.com", "name": "Bo Buyer"},
                     "talent": {"email": "talent@example.com", "name": "Tia Talent"}},
            facts=FACTS)
        started = time.perf_counter()
        pack = services.doc_pack_generate(actor=legal, leg=leg, reason_code="OPERATIONS",
                                          issue=True)
        elapsed = time.perf_counter() - started
        assert Document.objects.filter(pack=pack).count() == DOCUMENTS, pack
        if i >= 0:
            times.append(elapsed)
    return times


def _bare(packs: int) -> list[float]:
    """The same text (variables already filled) as plain paragraphs in the same font."""
    from fpdf import FPDF

    from casefile.documents.render import FONT_DIR, FONT_FILES

    paragraph = (PARAGRAPH.replace("{{ role }}", FACTS["role"])
                 .replace("{{ leg.city }}", "BER")
                 .replace("{{ starts_on }}", FACTS["starts_on"])
                 .replace("{{ studio_name }}", FACTS["studio_name"])
                 .replace("{{ fee_eur }}", str(FACTS["fee_eur"]))
                 .replace("{{ payment_days }}", str(FACTS["payment_days"])))
    times = []
    for i in range(-3, packs):
        started = time.perf_counter()
        for _ in range(DOCUMENTS):
            pdf = FPDF(format="A4")
            pdf.add_font("DejaVu", "", str(FONT_DIR / FONT_FILES[""]))
            pdf.set_font("DejaVu", size=10)
            pdf.add_page()
            for c in range(CLAUSES):
                pdf.multi_cell(0, 5, f"Clause {c + 1}\n\n{paragraph * 4}\n"
                                     "- the session is recorded in the booking\n"
                                     "- cancellation terms apply\n")
            pdf.output()
        if i >= 0:
            times.append(time.perf_counter() - started)
    return times


if __name__ == "__main__":
    main()
