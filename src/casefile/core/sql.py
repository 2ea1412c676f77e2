"""Small pieces of SQL shared by selectors."""


def contains_pattern(text: str) -> str:
    """A LIKE/ILIKE pattern matching `text` anywhere, with LIKE's wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
