"""What a worker runs: the interfaces, the rules, the engine settings, the selection that names
workloads in events, and where events go. The supervisor sends a new plan to apply a change."""

from __future__ import annotations

from dataclasses import dataclass

from fathom.config import EngineConfig
from fathom.sensor.workloads import Selection


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    # Increases with every change; a worker reports the generation it runs.
    generation: int
    interfaces: tuple[str, ...]
    rules: tuple[str, ...]
    # Increases whenever the rules files were loaded anew (their paths may stay the same).
    rules_version: int
    engine: EngineConfig
    selection: Selection
    # The EVE file every worker appends to ("-" for standard output), or None.
    eve: str | None
    # The PACKET_FANOUT group the workers share on each interface.
    fanout_group: int
    # Where compiled rules are cached (None: compile in each worker).
    rule_cache: str | None
    # The manager events are delivered to, and its bearer token (None: no manager).
    manager: str | None = None
    token: str | None = None
