"""Key ids of the published example keys in ``keys.example/``: refused outside demo mode."""

__all__ = ["EXAMPLE_KIDS", "is_example_kid"]

EXAMPLE_KIDS = frozenset(
    {
        "9a38c4e544ea2ce6",  # operator
        "625bbbafe081a75c",  # log
        "782d85c5cd9d031b",  # bwm
        "1df7e95b0b267d1c",  # alus
        "82ee8320c4dec88b",  # lab
        "92d8ee89266c1ea6",  # auditor
        "670f3006f63018ec",  # packco
        "97867574417a9d5b",  # carrier
        "b9d2bf1a5773a8ef",  # attest
    }
)


def is_example_kid(kid: str) -> bool:
    """True for a key id of a published example key."""
    return kid in EXAMPLE_KIDS
