"""One severity scale: the eight syslog levels of RFC 5424 (0 = emergency … 7 = debug).

Lower is more severe, so "at least warning" means `severity <= 4`.
"""

from enum import IntEnum


class Severity(IntEnum):
    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7

    @property
    def label(self) -> str:
        return self.name.lower()


_NAMES: dict[str, Severity] = {s.name.lower(): s for s in Severity} | {
    "emerg": Severity.EMERGENCY, "panic": Severity.EMERGENCY,
    "crit": Severity.CRITICAL, "fatal": Severity.CRITICAL, "severe": Severity.CRITICAL,
    "err": Severity.ERROR, "failure": Severity.ERROR,
    "warn": Severity.WARNING,
    "information": Severity.INFO, "informational": Severity.INFO, "ok": Severity.INFO,
    "trace": Severity.DEBUG, "verbose": Severity.DEBUG, "fine": Severity.DEBUG,
    "finer": Severity.DEBUG, "finest": Severity.DEBUG,
}


def parse_severity(value: object) -> Severity:
    """A syslog number (0–7) or a common level name (`warn`, `ERR`, `fatal`, `Information`…)."""
    if isinstance(value, bool):
        raise ValueError("severity must be a level name or a number from 0 to 7")
    if isinstance(value, int):
        if 0 <= value <= 7:
            return Severity(value)
        raise ValueError(f"severity {value} is outside the syslog range 0-7")
    if isinstance(value, str):
        key = value.strip().lower()
        if key.isdigit():
            return parse_severity(int(key))
        if key in _NAMES:
            return _NAMES[key]
        # OTLP-style names carry a number: "WARN2", "ERROR3", "INFO4".
        stripped = key.rstrip("0123456789")
        if stripped in _NAMES:
            return _NAMES[stripped]
        raise ValueError(f"unknown severity {value!r}")
    raise ValueError("severity must be a level name or a number from 0 to 7")


def from_otlp_number(number: int) -> Severity:
    """OTLP SeverityNumber (1–24 in four-step bands) to syslog."""
    if not 1 <= number <= 24:
        raise ValueError(f"OTLP severityNumber {number} is outside 1-24")
    band = (number - 1) // 4  # 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 fatal
    return [Severity.DEBUG, Severity.DEBUG, Severity.INFO, Severity.WARNING, Severity.ERROR,
            Severity.CRITICAL][band]
