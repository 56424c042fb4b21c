"""What the manager's API takes and returns: one pydantic model per shape, shared by the store
(which builds them) and the API (which declares them, so that the OpenAPI document describes them).

Times the manager writes are EVE timestamps (``2026-11-21T20:48:49.680019+0000``); times it reads
are ISO 8601, with an offset or in UTC. Event objects (alerts, flows, protocol events) are returned
as they were ingested, with the manager's own fields added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from fathom.manager.times import to_us
from fathom.selector import SelectorError, parse_selector

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
SID_MAX = 2**32 - 1


def _storable(text: str) -> str:
    """Text either database can keep: no NUL (PostgreSQL's TEXT refuses it) and no lone surrogate
    (no UTF-8 for it; Python's JSON parser lets ``\\ud800`` through)."""
    if "\x00" in text:
        raise ValueError("NUL is not allowed")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode") from None
    return text


Text = Annotated[str, AfterValidator(_storable)]


def _iso_only(value: object) -> object:
    # pydantic would read a number as seconds since the epoch; the API documents date-time text.
    if isinstance(value, int | float):
        raise ValueError("want an ISO 8601 date and time")
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("want an ISO 8601 date and time")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]
# Names a sensor reports (nodes, interfaces, counters, inspections, pods): Kubernetes names are
# at most 253 characters; the bounds keep one report's size in check.
Name = Annotated[Text, Field(min_length=1, max_length=253)]
Counter = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Sid = Annotated[int, Field(ge=1, le=SID_MAX)]


class IngestResult(BaseModel):
    """What became of a batch of events."""

    accepted: int = Field(description="events stored for the first time")
    duplicates: int = Field(description="events already stored (same id), or repeated in the batch")
    suppressed: int = Field(description="accepted alerts that a suppression matched")
    rejected: int = Field(description="items that are not an event object with an event_type")


class Alert(BaseModel):
    """An EVE alert as ingested, with the manager's id and state."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="sha256 of the event's canonical JSON, first 32 hex digits")
    dismissed: bool
    suppressed_by: str | None = Field(description="id of the suppression that matched at ingestion")


class AlertPage(BaseModel):
    items: list[Alert]
    next: str | None = Field(description="cursor for the next page; null on the last")


class AlertDetail(BaseModel):
    alert: Alert
    flow: dict[str, Any] | None = Field(description="the flow event of the alert's flow")
    context: list[dict[str, Any]] = Field(description="protocol events of the same flow, oldest first")
    rule: str | None = Field(description="the rule's text, from the manager's rules files")


class Bucket(BaseModel):
    start: str
    counts: dict[str, int] = Field(description='alerts by severity, "1" to "4"')


class Histogram(BaseModel):
    buckets: list[Bucket] = Field(description="buckets that hold alerts, oldest first")


class Flow(BaseModel):
    """An EVE flow event as ingested, with the manager's id."""

    model_config = ConfigDict(extra="allow")

    id: str


class FlowPage(BaseModel):
    items: list[Flow]
    next: str | None


class Application(BaseModel):
    app_proto: str | None
    protocol: str | None
    application: str | None
    category: str | None
    flows: int
    bytes: int


class CategoryTotal(BaseModel):
    category: str | None
    flows: int
    bytes: int


class Applications(BaseModel):
    applications: list[Application]
    categories: list[CategoryTotal]


class SensorReport(BaseModel):
    """What a sensor sends every few seconds."""

    model_config = ConfigDict(extra="forbid")

    node: Name | None = Field(default=None, description="must be the node in the path when given")
    interfaces: dict[Name, Literal["up", "down", "gone"]] = Field(default_factory=dict, max_length=4096)
    inspections: dict[Name, Annotated[list[Name], Field(max_length=4096)]] = Field(
        default_factory=dict,
        max_length=1024,
        description='"namespace/name" -> the "namespace/pod"s inspected',
    )
    counters: dict[Name, Counter] = Field(default_factory=dict, max_length=4096)
    version: Annotated[Text, Field(max_length=253)] = ""


class Sensor(BaseModel):
    node: str
    last_seen: str
    interfaces: dict[str, str]
    counters: dict[str, int]
    version: str


class InspectionNode(BaseModel):
    active: bool = Field(description="the node's sensor reported within the last minute")
    pods: list[str]


class Inspection(BaseModel):
    namespace: str
    name: str
    nodes: dict[str, InspectionNode]


class Status(BaseModel):
    sensors: list[Sensor]
    inspections: list[Inspection]


class SuppressionIn(BaseModel):
    """A new suppression: alerts of these sids, within the window, whose attributes the selector
    matches, are stored as suppressed."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=200)]
    description: Annotated[Text, Field(max_length=2000)] = ""
    selector: Annotated[Text, Field(max_length=4096)] = Field(
        "",
        description="Calico selector over namespace, pod, node, src_namespace, src_pod, dest_namespace, "
        "dest_pod, src_ip, dest_ip, proto, app_proto and label.<key>; empty means all()",
    )
    sids: Annotated[list[Sid], Field(min_length=1, max_length=1000)]
    start: IsoTime | None = None
    end: IsoTime | None = None

    @field_validator("selector")
    @classmethod
    def _selector_parses(cls, text: str) -> str:
        try:
            parse_selector(text)
        except SelectorError as exc:
            raise ValueError(str(exc)) from None
        return text

    @model_validator(mode="after")
    def _window_ordered(self) -> SuppressionIn:
        if self.start is not None and self.end is not None and to_us(self.end) <= to_us(self.start):
            raise ValueError("end must be after start")
        return self


class Suppression(BaseModel):
    id: str
    name: str
    description: str
    selector: str
    sids: list[int]
    start: str | None
    end: str | None
    created: str
    suppressed: int = Field(description="alerts stored as suppressed by this suppression")
