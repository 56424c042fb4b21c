"""One typed configuration for the engine, loaded from YAML with errors that name the field.

The models are plain frozen dataclasses so that building the defaults costs nothing at start-up;
pydantic validates them only when a file is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Gt, Le

if TYPE_CHECKING:
    from pydantic import ValidationError

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
class DetectConfig:
    """Snort's event queue, with its defaults: of the rules that match one packet or PDU, the
    first ``max_queue_events`` are kept and ``log_events`` of them alert (the longest fast
    pattern first)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    max_queue_events: Annotated[int, Ge(1), Le(100)] = 5
    log_events: PositiveInt = 3


@dataclass(frozen=True, slots=True)
class ProfileConfig:
    """A log profile, as in the Talos design: the applications (``app_proto`` names) whose
    protocol logs are written."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: str
    applications: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FlowScopeConfig:
    """Traffic from ``sourceNetwork`` (the client) to ``destinationNetwork`` is logged by
    ``profile``; the first scope that holds a flow applies."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    # Spelt as in the config file.
    sourceNetwork: str
    destinationNetwork: str
    profile: str


@dataclass(frozen=True, slots=True)
class AppConfig:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    # Files of domains with the application and category behind them, added to the bundled list
    # (fathom/apps/data/applications.txt shows the format).
    domains: tuple[str, ...] = ()
    # Which protocol logs are written (the top-level ``profiles`` and ``flows`` sections): with
    # no profiles, every log; with profiles and no scopes, the applications of all of them.
    profiles: tuple[ProfileConfig, ...] = ()
    flows: tuple[FlowScopeConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class EngineConfig:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    flow: FlowConfig = field(default_factory=FlowConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    defrag: DefragConfig = field(default_factory=DefragConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    app: AppConfig = field(default_factory=AppConfig)
    # Snort's checksum_eval: a packet with a wrong TCP/UDP/ICMP checksum is counted to its flow
    # and goes no further (no stream, no inspection).
    verify_checksums: bool = True


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """A workload on this host, as the Kubernetes agent would learn it: the pod, its labels, the
    host-side interface that carries its traffic, and its addresses."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: str
    interface: str
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InspectionConfig:
    """A DeepPacketInspection resource: its Calico selector chooses endpoints of its namespace."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: str
    selector: str
    namespace: str = "default"


@dataclass(frozen=True, slots=True)
class FathomConfig:
    """A whole config file. ``engine`` tunes the packet path; the other sections declare what a host
    sensor inspects and where its events go (see the README's host mode)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    engine: EngineConfig = field(default_factory=EngineConfig)
    # Rules files or directories, loaded together.
    rules: tuple[str, ...] = ()
    # Where EVE JSON lines go ("-" for standard output).
    eve: str | None = None
    # Workloads on this host, and the inspections that select some of them.
    endpoints: tuple[EndpointConfig, ...] = ()
    inspections: tuple[InspectionConfig, ...] = ()
    # The node the endpoints run on, as alerts name it (default: the host name).
    node: str | None = None
    # Which applications to log, by profile name.
    profiles: tuple[ProfileConfig, ...] = ()
    # Traffic scopes by network, each bound to a profile.
    flows: tuple[FlowScopeConfig, ...] = ()


SECTIONS = tuple(f.name for f in fields(FathomConfig))


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line naming the file and field."""


def parse_config(data: object, source: str) -> FathomConfig:
    """Validate a whole config mapping (from YAML or a custom resource). A misspelt section is an
    error that lists the known ones; an empty section means its defaults."""
    from pydantic import TypeAdapter, ValidationError

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    unknown = [str(key) for key in data if key not in SECTIONS]
    if unknown:
        raise ConfigError(f"{source}: unknown section {unknown[0]!r}; known sections: {', '.join(SECTIONS)}")
    try:
        config = TypeAdapter(FathomConfig).validate_python({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_first_error(exc, source)) from None
    _check_scopes(config, source)
    _check_endpoints(config, source)
    # The engine's app layer chooses the logs: it gets the sections with its own config.
    app = replace(config.engine.app, profiles=config.profiles, flows=config.flows)
    return replace(config, engine=replace(config.engine, app=app))


def _check_endpoints(config: FathomConfig, source: str) -> None:
    """Endpoint addresses parse, and no two endpoints share an interface or a name."""
    seen: dict[str, str] = {}
    for i, endpoint in enumerate(config.endpoints):
        for ip in endpoint.ips:
            try:
                ip_address(ip)
            except ValueError as exc:
                raise ConfigError(f"{source}: endpoints.{i}.ips: {exc}") from None
        other = seen.setdefault(endpoint.interface, endpoint.name)
        if other != endpoint.name:
            raise ConfigError(f"{source}: endpoints.{i}.interface: {endpoint.interface} is {other}'s already")


def _check_scopes(config: FathomConfig, source: str) -> None:
    """Each scope names a profile that exists, and networks that parse."""
    names = {profile.name for profile in config.profiles}
    for i, scope in enumerate(config.flows):
        if scope.profile not in names:
            raise ConfigError(f"{source}: flows.{i}.profile: no profile named {scope.profile!r}")
        for key in ("sourceNetwork", "destinationNetwork"):
            try:
                ip_network(getattr(scope, key), strict=False)
            except ValueError as exc:
                raise ConfigError(f"{source}: flows.{i}.{key}: {exc}") from None


def _first_error(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{source}: {where}: {first['msg']}"


def load_config(path: str | None) -> FathomConfig:
    if path is None:
        return FathomConfig()
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config({} if raw is None else raw, path)
