"""Identifiers: a short prefix naming the kind of thing, then a ULID (sortable by creation time)."""

from ulid import ULID

PREFIXES = frozenset({
    "cas", "act", "aud", "cls", "tpl", "dpk", "doc", "dse", "evt", "usr", "ten",  # DESIGN
    "stf", "tok", "ckp",  # staff users, API tokens, ledger checkpoints
    "apr", "imp", "cmd",  # four-eyes approvals, impersonations, outbox commands
    "evb",  # evidence blobs (DESIGN 2)
    "whd",  # vendor webhook deliveries (the webhook log)
    "hld",  # legal holds (DESIGN 9.1)
    "vrf",  # verification cases (DESIGN 2, 9.3)
    "mod",  # moderation items and decisions (DESIGN 9.4)
    "stk",  # strikes (DESIGN 9.4, the strike ledger)
    "rpt",  # safety reports, the detail of a report case (DESIGN 9.4)
    "sor",  # DSA statements of reasons (DESIGN 9.4)
    "iss",  # recurring issues: event templates grouped as a person would (events)
})


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{ULID()}"


# Primary-key defaults, one per prefix (module-level functions, so migrations can name them).
def new_cas_id() -> str:
    return new_id("cas")


def new_act_id() -> str:
    return new_id("act")


def new_aud_id() -> str:
    return new_id("aud")


def new_cls_id() -> str:
    return new_id("cls")


def new_tpl_id() -> str:
    return new_id("tpl")


def new_dpk_id() -> str:
    return new_id("dpk")


def new_doc_id() -> str:
    return new_id("doc")


def new_dse_id() -> str:
    return new_id("dse")


def new_evt_id() -> str:
    return new_id("evt")


def new_usr_id() -> str:
    return new_id("usr")


def new_ten_id() -> str:
    return new_id("ten")


def new_stf_id() -> str:
    return new_id("stf")


def new_tok_id() -> str:
    return new_id("tok")


def new_ckp_id() -> str:
    return new_id("ckp")


def new_apr_id() -> str:
    return new_id("apr")


def new_imp_id() -> str:
    return new_id("imp")


def new_cmd_id() -> str:
    return new_id("cmd")


def new_evb_id() -> str:
    return new_id("evb")


def new_vrf_id() -> str:
    return new_id("vrf")


def new_stk_id() -> str:
    return new_id("stk")


def new_hld_id() -> str:
    return new_id("hld")


def new_whd_id() -> str:
    return new_id("whd")


def new_mod_id() -> str:
    return new_id("mod")


def new_rpt_id() -> str:
    return new_id("rpt")


def new_sor_id() -> str:
    return new_id("sor")


def new_iss_id() -> str:
    return new_id("iss")
