"""Rule options. Importing this package registers every keyword Fathom knows."""

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
    tls,
)
from fathom.rules.options.base import REGISTRY, RuleBody

__all__ = ["REGISTRY", "RuleBody"]
