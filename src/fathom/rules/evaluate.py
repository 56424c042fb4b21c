"""The payload evaluator: a rule's payload options, in order, with Snort's retries.

Each option starts from the cursor the option before it left when both read the same buffer; a
switch of buffer starts at 0. When an option fails, the evaluator goes back to the nearest earlier
option that has another cursor to offer (a content's next occurrence, a pcre's next match) and
tries again from there, depth first, as Snort's detection option tree does.

Snort bounds a content's retries by its own window (each retry starts past the previous match,
and stops at the end of the depth/within window or of the buffer); those bounds live in the
options. On top of that, the number of retries per evaluation is capped, so that a rule with many
unbounded contents over a large buffer cannot take quadratic time: past ``MAX_RETRIES`` the rule
does not match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from fathom.rules.options.base import MatchState, PayloadOption
from fathom.rules.options.buffers import BASE64_BUFFER

MAX_RETRIES = 1024


def match_payload(
    options: Sequence[PayloadOption],
    buffers: Callable[[str], bytes | None],
    state: MatchState,
) -> bool:
    """True when every option matches in order. ``buffers`` gives a buffer's bytes by name, or
    None when the packet has no such buffer (its options then fail)."""
    count = len(options)
    if not count:
        return True
    pending: list[Iterator[int] | None] = [None] * count
    cursors = [0] * count
    retries = 0
    index = 0
    while True:
        iterator = pending[index]
        if iterator is None:
            option = options[index]
            data = state.base64 if option.buffer == BASE64_BUFFER else buffers(option.buffer)
            if data is not None:
                start = cursors[index - 1] if index and options[index - 1].buffer == option.buffer else 0
                iterator = option.matches(data, start, state)
                pending[index] = iterator
        cursor = -1 if iterator is None else next(iterator, -1)
        if cursor >= 0:
            cursors[index] = cursor
            index += 1
            if index == count:
                return True
            continue
        # This option has nothing (more) to offer: back to the last one that may.
        pending[index] = None
        index -= 1
        if index < 0:
            return False
        retries += 1
        if retries > MAX_RETRIES:
            return False
