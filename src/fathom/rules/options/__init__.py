"""Rule options: one module per option family, each registering its keywords."""

from __future__ import annotations

from functools import cache

from fathom.rules.options.base import REGISTRY, OptionFactory, RuleBody

__all__ = ["RuleBody", "registry"]


@cache
def registry() -> dict[str, OptionFactory]:
    """Every keyword Fathom knows. The option modules are imported (and so register) on first use,
    so that a run without rules does not pay for them at start-up."""
    from fathom.rules.options import (  # noqa: F401  (imported for their registrations)
        buffers,
        byte,
        content,
        data,
        filters,
        flowbits,
        header,
        inspectors,
        meta,
        pcre,
        sip,
        tls,
    )

    return REGISTRY
