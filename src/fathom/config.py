"""One typed configuration for the engine, loaded from YAML with errors that name the field.

The models are plain frozen dataclasses so that building the defaults costs nothing at start-up;
pydantic validates them only when a file is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Gt

PositiveInt = Annotated[int, Gt(0)]
PositiveFloat = Annotated[float, Gt(0)]
_STRICT: dict[str, Any] = {"extra": "forbid"}


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    """Idle timeouts in seconds per flow state."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    new: PositiveFloat
    established: PositiveFloat
    closed: PositiveFloat


@dataclass(frozen=True, slots=True)
class FlowConfig:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    # Bytes the flow table may use.
    memcap: PositiveInt = 128 * 1024 * 1024
    tcp: TimeoutConfig = field(default_factory=lambda: TimeoutConfig(new=60, established=600, closed=60))
    # Zeek's one minute for unanswered UDP: syslog and DNS retries are often 30-60 s apart.
    udp: TimeoutConfig = field(default_factory=lambda: TimeoutConfig(new=60, established=300, closed=60))
    other: TimeoutConfig = field(default_factory=lambda: TimeoutConfig(new=30, established=300, closed=30))


@dataclass(frozen=True, slots=True)
class StreamConfig:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    # Bytes reassembled per direction; 0 means unlimited.
    depth: Annotated[int, Ge(0)] = 1024 * 1024
    # Bytes all out-of-order queues together may hold.
    memcap: PositiveInt = 64 * 1024 * 1024
    # Out-of-order bytes one direction may hold before its hole is declared a gap.
    max_queued: PositiveInt = 1024 * 1024
    overlap_policy: Literal["first", "last"] = "first"


@dataclass(frozen=True, slots=True)
class DefragConfig:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    max_trackers: PositiveInt = 4096
    timeout: PositiveFloat = 60.0
    memcap: PositiveInt = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class EngineConfig:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    flow: FlowConfig = field(default_factory=FlowConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    defrag: DefragConfig = field(default_factory=DefragConfig)


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line naming the file and field."""


def parse_engine_config(data: object, source: str) -> EngineConfig:
    """Validate a mapping (from YAML or a custom resource) into an :class:`EngineConfig`."""
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(EngineConfig).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None


def load_config(path: str | None) -> EngineConfig:
    if path is None:
        return EngineConfig()
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    # Other top-level sections (endpoints, inspections, ...) belong to the sensor, not the engine.
    return parse_engine_config(raw.get("engine") or {}, path)
