"""One typed configuration for the engine, loaded from YAML with errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeoutConfig(_Strict):
    """Idle timeouts in seconds per flow state."""

    new: float = Field(gt=0)
    established: float = Field(gt=0)
    closed: float = Field(gt=0)


class FlowConfig(_Strict):
    memcap: int = Field(128 * 1024 * 1024, gt=0, description="bytes the flow table may use")
    tcp: TimeoutConfig = TimeoutConfig(new=60, established=600, closed=60)
    # Zeek's one minute for unanswered UDP: syslog and DNS retries are often 30-60 s apart.
    udp: TimeoutConfig = TimeoutConfig(new=60, established=300, closed=60)
    other: TimeoutConfig = TimeoutConfig(new=30, established=300, closed=30)


class StreamConfig(_Strict):
    depth: int = Field(1024 * 1024, ge=0, description="bytes reassembled per direction; 0 = unlimited")
    memcap: int = Field(64 * 1024 * 1024, gt=0, description="bytes all out-of-order queues may hold")
    max_queued: int = Field(1024 * 1024, gt=0, description="out-of-order bytes one direction may hold")
    overlap_policy: Literal["first", "last"] = "first"


class DefragConfig(_Strict):
    max_trackers: int = Field(4096, gt=0)
    timeout: float = Field(60.0, gt=0)
    memcap: int = Field(32 * 1024 * 1024, gt=0)


class EngineConfig(_Strict):
    flow: FlowConfig = FlowConfig()
    stream: StreamConfig = StreamConfig()
    defrag: DefragConfig = DefragConfig()


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line naming the file and field."""


def load_config(path: str | None) -> EngineConfig:
    if path is None:
        return EngineConfig()
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
    engine = raw.get("engine") or {}
    try:
        return EngineConfig.model_validate(engine)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {field}: {first['msg']}") from None
