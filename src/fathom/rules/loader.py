"""From rule text to rules: the parsed header plus the body its options build.

Every option is built by the factory registered for its keyword and attached in order. A rule
that cannot be built is rejected with one line naming its file, line and reason; the others load.
A rule whose options include some that are accepted but not yet evaluated loads in part, and says
which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fathom.apps.http_buffers import BUFFER_SECTION, buffer_base
from fathom.rules.classification import CLASSTYPES
from fathom.rules.errors import RuleError
from fathom.rules.options import RuleBody, registry
from fathom.rules.options.flowbits import FlowBits, bind_flowbits
from fathom.rules.parser import RuleLoadError, RuleSource, RuleText, parse_sources, read_rule_sources

# Header protocols that name a service (Snort 3's ``alert http (...)``) rather than an IP protocol.
_IP_PROTOCOLS = frozenset(("ip", "tcp", "udp", "icmp"))
# Snort's priority when neither priority: nor a classtype gives one.
DEFAULT_PRIORITY = 3
# The Snort 3 community ruleset shipped with Fathom: what analyze loads when given no rules.
BUNDLED_RULES = Path(__file__).resolve().parent / "data" / "snort3-community.rules"


@dataclass(frozen=True)
class Rule:
    header: RuleText
    body: RuleBody
    # The rule's place in its ruleset: candidates are evaluated in this order.
    order: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return self.body.gid, self.body.sid

    @property
    def priority(self) -> int:
        return DEFAULT_PRIORITY if self.body.priority is None else self.body.priority


@dataclass
class Ruleset:
    rules: list[Rule] = field(default_factory=list)
    rejected: list[RuleLoadError] = field(default_factory=list)
    # The ruleset's flowbits: per-flow bits and the groups its rules name.
    flowbits: FlowBits = field(default_factory=FlowBits)

    @property
    def partial(self) -> list[Rule]:
        return [rule for rule in self.rules if rule.body.partial]


def build_rule(text: RuleText) -> Rule:
    """Attach every option of ``text`` to a new body. Raises RuleError naming the option at fault."""
    body = RuleBody()
    if text.protocol not in _IP_PROTOCOLS:
        body.services.append(text.protocol)
    options = registry()
    for keyword, args in text.options:
        factory = options.get(keyword)
        if factory is None:
            raise RuleError(f"unknown rule option {keyword!r}")
        try:
            factory(args).attach(body)
        except RuleError as exc:
            raise RuleError(f"{keyword}: {exc}") from None
    if not body.sid:
        raise RuleError("no sid")
    if not body.services and any(buffer_base(o.buffer) in BUFFER_SECTION for o in body.payload):
        # A rule on HTTP buffers is an HTTP rule, named so or not (Snort adds the service too).
        body.services.append("http")
    if body.priority is None and body.classtype:
        body.priority = CLASSTYPES[body.classtype].priority
    return Rule(text, body)


def load_ruleset(paths: Sequence[str], variables: Mapping[str, str] | None = None) -> Ruleset:
    """Load rules from files and directories (see :func:`build_ruleset`)."""
    sources, errors = read_rule_sources(paths)
    return build_ruleset(sources, errors, variables)


def build_ruleset(
    sources: Sequence[RuleSource], errors: Sequence[RuleLoadError], variables: Mapping[str, str] | None = None
) -> Ruleset:
    """The ruleset of rules files read, with ``errors`` from reading them. A (gid, sid) given twice
    keeps the higher revision, as Snort does, and the other is reported."""
    texts, parse_errors = parse_sources(sources, variables)
    ruleset = Ruleset(rejected=[*errors, *parse_errors])
    by_key: dict[tuple[int, int], int] = {}
    for text in texts:
        try:
            rule = build_rule(text)
        except RuleError as exc:
            ruleset.rejected.append(RuleLoadError(text.file, text.line, str(exc), text.text))
            continue
        bind_flowbits(rule.body, ruleset.flowbits)
        index = by_key.get(rule.key)
        if index is None:
            by_key[rule.key] = len(ruleset.rules)
            ruleset.rules.append(replace(rule, order=len(ruleset.rules)))
            continue
        kept = ruleset.rules[index]
        newer, older = (rule, kept) if rule.body.rev > kept.body.rev else (kept, rule)
        ruleset.rules[index] = replace(newer, order=index)
        reason = f"gid {rule.body.gid} sid {rule.body.sid} is also at {_where(newer)} (rev {newer.body.rev})"
        ruleset.rejected.append(
            RuleLoadError(older.header.file, older.header.line, reason, older.header.text)
        )
    return ruleset


def _where(rule: Rule) -> str:
    return f"{rule.header.file}:{rule.header.line}"
