"""The API's request and response bodies (pydantic), kept apart from the domain model.

Times are ISO 8601 UTC; durations ``_s`` seconds; distances ``_m`` metres; places ``[lon, lat]``.
The plan document is the ``plan.json`` contract (``docs/plan-format.md``), :class:`PlanDocument`,
or for managers :class:`ManagerPlanDocument`, made from the manager's view of the plan
(:func:`schoolbus.service.privacy.redacted_plan`): it has no field that could carry a pupil id, a
per-child time or the server's path of the road network file. Parts of ``plan.json`` that are the
domain's own records written field by field (policy, prices, schools, stops' names, road steps,
vehicle-days, summary, cost lines) are typed by those records, so the schema cannot drift from
what :mod:`schoolbus.planfile` writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import Path as FastApiPath
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, create_model, model_serializer

from schoolbus.model import (
    CostLine,
    Direction,
    Plan,
    Policy,
    Prices,
    ReasonCode,
    RoadStep,
    Scenario,
    School,
    Status,
    Stop,
    StopName,
    Summary,
    VehicleDay,
    Visit,
)
from schoolbus.outputs.reasons import describe_reason
from schoolbus.planfile import FORMAT_VERSION, NetworkSource, plan_to_dict

Role = Literal["admin", "officer", "manager", "contractor"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
InputKind = Literal["students", "schools", "fleet", "policy", "hazards"]


class ProblemOut(BaseModel):
    """One problem in an input, as the CLI prints it (``message``) and field by field."""

    file: str
    row: int | None = Field(description="Row as numbered in Excel (header = row 1); null for a whole file or a key")
    column: str | None
    value: Any = Field(description="What the file holds there (text when not JSON-ready)")
    expected: str
    message: str


class ErrorOut(BaseModel):
    """Every error response: a stable ``code``, a message, and for invalid inputs each problem."""

    code: str = Field(examples=["invalid_input", "forbidden", "not_found", "unauthorized"])
    message: str
    problems: list[ProblemOut] = []


class TokenIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(
        default=None, pattern=r"^[0-9]{6}$", description="The authenticator app's code, for accounts with a second factor"
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    must_change_password: bool


MIN_PASSWORD_CHARS = 10
USERNAME_PATTERN = r"^[a-z0-9._-]+$"
NOT_BLANK = r"\S"
"""Names must hold a visible character (they are stripped before use)."""


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=1024)


class TotpSetupOut(BaseModel):
    secret: str = Field(description="Base32 secret to type into the authenticator app")
    otpauth_uri: str = Field(description="The same as an otpauth:// URI (what a QR code carries)")


class TotpCodeIn(BaseModel):
    code: str = Field(pattern=r"^[0-9]{6}$")


class RoleIn(BaseModel):
    role: Role


class SettingsIn(BaseModel):
    model_config = ConfigDict(strict=True)
    require_totp: bool = Field(description="Admins and officers must sign in with an authenticator app")


class SettingsOut(BaseModel):
    require_totp: bool


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=80, pattern=USERNAME_PATTERN)
    role: Role
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_CHARS, max_length=1024, description="Omit to get a one-time password"
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: Role
    is_active: bool
    must_change_password: bool
    has_totp: bool = False


class UserCreatedOut(UserOut):
    one_time_password: str | None = Field(description="Shown once, when the server generated it")


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=120, pattern=NOT_BLANK, description="Unique among projects (else 422)")


class InputFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: InputKind
    filename: str
    n_rows: int | None
    uploaded_at: dt.datetime


class ProjectOut(BaseModel):
    id: str
    name: str
    created_at: dt.datetime
    network_filename: str | None
    files: list[InputFileOut] = []


class MemberIn(BaseModel):
    username: str = Field(min_length=1, max_length=80, description="An officer, manager or contractor account (else 422)")


class ScenarioIn(BaseModel):
    name: str = Field(min_length=1, max_length=120, pattern=NOT_BLANK)
    budget_per_year: float | None = Field(None, ge=0, description="Annual budget: carry the most priority-weighted pupils within it")
    choose_bells: bool = Field(False, description="Move bells within the schools file's bell_earliest/bell_latest windows to need the fewest vehicles")


class ScenarioOut(BaseModel):
    id: str
    project_id: str
    name: str
    n_students: int
    n_schools: int
    created_at: dt.datetime


class JobIn(BaseModel):
    # Strict: `true` is not a seed, "3" is not an id.
    model_config = ConfigDict(strict=True)
    scenario_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    time_limit_s: float = Field(default=5.0, gt=0, le=600, description="Seconds per routing solve (a cap)")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class JobOut(BaseModel):
    id: str
    project_id: str
    scenario_id: str | None
    kind: Literal["plan", "demo"]
    status: JobStatus
    stage: str
    done: int
    total: int
    error: str | None
    time_limit_s: float
    seed: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    plan_id: str | None


class PlanOut(BaseModel):
    id: str
    project_id: str
    scenario_id: str | None
    job_id: str | None
    name: str
    created_at: dt.datetime
    summary: Summary | None = Field(description="The plan's summary; null for contractors")


class SheetOut(BaseModel):
    vehicle_id: str
    pdf_url: str
    html_url: str


class ContractorsIn(BaseModel):
    assignments: dict[str, str | None] = Field(description="vehicle id → contractor username (null removes)")


class MetricOut(BaseModel):
    key: str = Field(description="A field of the plans' summary, e.g. cost_per_day", examples=["n_vehicles"])
    values: list[int | float | None] = Field(description="One per plan, in the order of `plans`; null when a plan has none")


class ComparisonOut(BaseModel):
    plans: list[PlanOut]
    metrics: list[MetricOut] = Field(description="One row per metric")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: dt.datetime
    username: str
    action: str
    target: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    schema_version: int
    running_jobs: int


PUBLIC_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
"""Public ids are random URL-safe tokens (``db.new_public_id``); integer keys never leave the store."""

Id = Annotated[str, FastApiPath(pattern=PUBLIC_ID_PATTERN, description="A public id (random, not sequential)")]
"""A path parameter naming a project, scenario, job or plan."""
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]


# --------------------------------------------------------------------------------------------------
# The plan document (plan.json), whole and for managers
# --------------------------------------------------------------------------------------------------

LonLat = tuple[float, float]
"""A place, ``[lon, lat]`` in degrees (WGS 84)."""


class _Closed(BaseModel):
    """A part of ``plan.json``: an unknown key is an error, so the schema is the whole contract."""

    model_config = ConfigDict(extra="forbid")


SourceKind = Literal["osm", "roads", "graphml", "place", "bbox"]
"""``planfile.SOURCE_KINDS``: how ``load_network`` was told where the roads come from."""


class NetworkSourceOut(_Closed):
    kind: SourceKind = Field(description="The `load_network` keyword")
    value: str | tuple[float, float, float, float] = Field(
        description="The file path on the server, the place name, or the bbox (west, south, east, north)"
    )
    sha256: str | None = Field(description="SHA-256 of the file (file kinds); null for downloads")
    max_edge_m: float
    road_columns: list[tuple[str, str]] | None = Field(description="Column names of a `roads` layer; null: the defaults")


class NetworkOut(_Closed):
    name: str
    source: NetworkSourceOut | None = Field(description="How to rebuild the road network; null when unknown")


class ReasonOut(_Closed):
    code: ReasonCode = Field(description="A stable reason code (`docs/plan-format.md`)")
    params: dict[str, str | int | float] = Field(description="The reason's parameters, by name")
    causes: list[ReasonOut] = Field(description="Reasons behind this one")


class StudentOut(_Closed):
    """A pupil's assignment: no home location (``plan.json`` never holds one)."""

    id: str
    school_id: str
    shift: str
    status: Status
    reason: str | None = Field(description="Why unserved, in English words (match on `reason_code`)")
    reason_code: ReasonOut | None
    stop_id: str | None
    walk_m: float | None
    pickup_s: int | None = Field(description="Seconds after midnight")
    dropoff_s: int | None = Field(description="Seconds after midnight")
    ride_to_school_s: int | None
    ride_home_s: int | None


class _VisitPlace(_Closed):
    """A visit names its stop or its school, never both: the other key is left out."""

    stop_id: str | None = None
    school_id: str | None = None

    @model_serializer(mode="wrap")
    def _without_the_other_place(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        for key in ("stop_id", "school_id"):
            if out.get(key) is None:
                out.pop(key, None)
        return out


class VisitOut(_VisitPlace):
    arrive_s: int = Field(description="Seconds after midnight")
    depart_s: int = Field(description="Seconds after midnight")
    board: list[str] = Field(description="Pupil ids boarding here")
    alight: list[str] = Field(description="Pupil ids alighting here")


class TripOut(_Closed):
    id: str
    vehicle_id: str
    vehicle_type: str
    school_id: str
    shift: str
    direction: Direction
    visits: list[VisitOut]
    distance_m: float
    duration_s: int
    steps: list[RoadStep] = Field(description="The road path street by street, `coords` as [lon, lat]")


class PlanDocument(_Closed):
    """The ``plan.json`` contract (``docs/plan-format.md``), as officers and admins read it."""

    format_version: str = Field(examples=[FORMAT_VERSION])
    scenario_name: str
    currency: str
    seed: int
    routing_backend: str
    network: NetworkOut
    policy: Policy
    prices: Prices
    schools: list[School]
    stops: list[Stop]
    students: list[StudentOut]
    trips: list[TripOut]
    vehicles: list[VehicleDay]
    summary: Summary
    costs: list[CostLine]

    @classmethod
    def of(cls, plan: Plan, source: NetworkSource | None) -> PlanDocument:
        """The document of ``plan``, written by :func:`schoolbus.planfile.plan_to_dict` (the one encoder)."""
        return cls.model_validate(plan_to_dict(plan, source))


class ManagerSourceOut(_Closed):
    """Where the roads came from, without the server's file path."""

    kind: SourceKind
    sha256: str | None
    max_edge_m: float


class ManagerNetworkOut(_Closed):
    name: str
    source: ManagerSourceOut | None


class ManagerStopOut(_Closed):
    """A shared stop with its number of pupils (door-to-door stops, homes, are left out)."""

    id: str
    location: LonLat
    node_id: int
    school_id: str
    shift: str
    n_students: int
    name: str
    is_door_to_door: bool = Field(description="Always false: a manager's document holds no door-to-door stop")
    where: StopName | None


class ManagerVisitOut(_VisitPlace):
    arrive_s: int = Field(description="Seconds after midnight")
    depart_s: int = Field(description="Seconds after midnight")
    n_board: int
    n_alight: int


class ManagerTripOut(_Closed):
    id: str
    vehicle_id: str
    vehicle_type: str
    school_id: str
    shift: str
    direction: Direction
    visits: list[ManagerVisitOut] = Field(description="Calls at shared stops and the school (never at a home)")
    distance_m: float
    duration_s: int
    steps: list[RoadStep] = Field(description="The road path; no point within 300 m of a home")


class UnservedReasonOut(_Closed):
    reason: str | None = Field(description="The reason in English words")
    code: ReasonCode | None
    n_students: int


class ManagerPlanDocument(_Closed):
    """``plan.json`` without student-level data or homes, as managers read it.

    Made from :func:`schoolbus.service.privacy.redacted_plan`'s manager view: no ``students``
    (counts of unserved pupils per reason instead), stop and visit counts instead of pupil ids,
    no door-to-door stop nor its visits, no road-path point near a home, no server file path.
    """

    format_version: str = Field(examples=[FORMAT_VERSION])
    redacted_for: Literal["manager"] = "manager"
    scenario_name: str
    currency: str
    seed: int
    routing_backend: str
    network: ManagerNetworkOut
    policy: Policy
    prices: Prices
    schools: list[School]
    stops: list[ManagerStopOut]
    unserved_reasons: list[UnservedReasonOut] = Field(description="Unserved pupils counted by reason, most first")
    trips: list[ManagerTripOut]
    vehicles: list[VehicleDay]
    summary: Summary
    costs: list[CostLine]

    @classmethod
    def of(cls, view: Plan, source: NetworkSource | None) -> ManagerPlanDocument:
        """The document of a manager's view (``redacted_plan(plan, "manager")``) of a plan."""
        reasons = Counter(
            (describe_reason(a.reason, "en"), a.reason.code.value) if a.reason is not None else (None, None)
            for a in view.assignments
            if a.status is Status.UNSERVED
        )
        scenario = view.scenario
        return cls(
            format_version=FORMAT_VERSION,
            scenario_name=scenario.name,
            currency=scenario.prices.currency,
            seed=view.seed,
            routing_backend=view.routing_backend,
            network=ManagerNetworkOut(
                name=view.network_name,
                source=None if source is None else ManagerSourceOut(kind=source.kind, sha256=source.sha256, max_edge_m=source.max_edge_m),
            ),
            policy=scenario.policy,
            prices=scenario.prices,
            schools=list(scenario.schools),
            stops=[_manager_stop(s) for s in view.stops],
            unserved_reasons=[
                UnservedReasonOut(reason=words, code=code, n_students=n)
                for (words, code), n in sorted(reasons.items(), key=lambda kv: (-kv[1], str(kv[0])))
            ],
            trips=[
                ManagerTripOut(
                    id=t.id, vehicle_id=t.vehicle_id, vehicle_type=t.vehicle_type, school_id=t.school_id,
                    shift=t.shift, direction=t.direction, visits=[_manager_visit(v) for v in t.visits],
                    distance_m=t.distance_m, duration_s=t.duration_s, steps=list(t.steps),
                )
                for t in view.trips
            ],
            vehicles=list(view.vehicles),
            summary=view.summary,
            costs=list(view.costs),
        )


def _manager_stop(stop: Stop) -> ManagerStopOut:
    return ManagerStopOut(
        id=stop.id, location=stop.location, node_id=stop.node_id, school_id=stop.school_id, shift=stop.shift,
        n_students=len(stop.student_ids), name=stop.name, is_door_to_door=stop.is_door_to_door, where=stop.where,
    )


def _manager_visit(visit: Visit) -> ManagerVisitOut:
    return ManagerVisitOut(
        arrive_s=visit.arrive_s, depart_s=visit.depart_s, stop_id=visit.stop_id, school_id=visit.school_id,
        n_board=len(visit.board), n_alight=len(visit.alight),
    )


# --------------------------------------------------------------------------------------------------
# Other documents served as files
# --------------------------------------------------------------------------------------------------


class GeoJsonGeometry(BaseModel):
    type: Literal["Point", "LineString"]
    coordinates: tuple[float, float] | list[tuple[float, float]] = Field(description="[lon, lat] (RFC 7946)")


class GeoJsonFeature(BaseModel):
    type: Literal["Feature"]
    geometry: GeoJsonGeometry | None = Field(description="null for a trip without a road path")
    properties: dict[str, Any] = Field(description="The trip's or stop's fields (see docs/plan-format.md, exports)")


class GeoJsonFeatureCollection(BaseModel):
    """The exported ``routes.geojson`` (a LineString per trip) and ``stops.geojson`` (a Point per stop)."""

    type: Literal["FeatureCollection"]
    features: list[GeoJsonFeature]


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its nested models written in place (no ``$defs``).

    For a response documented by hand (a route's ``responses=``), which FastAPI does not add to
    the document's components; ``model`` must not nest itself.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolved(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolved(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolved(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolved(value) for value in node]
        return node

    return resolved(schema)


def _scenario_document_model() -> type[BaseModel]:
    """``scenario.json``: ``format_version`` and every field of :class:`~schoolbus.model.Scenario`,
    typed by the domain records it is written from (so the schema follows the model)."""
    hints = typing.get_type_hints(Scenario)
    fields: dict[str, Any] = {"format_version": (str, Field(examples=[FORMAT_VERSION]))}
    fields |= {f.name: (hints[f.name], ...) for f in dataclasses.fields(Scenario)}
    return create_model(
        "ScenarioDocument",
        __doc__="The scenario.json document: every validated input, HOME LOCATIONS included.",
        **fields,
    )


ScenarioDocument = _scenario_document_model()


# --------------------------------------------------------------------------------------------------
# Plan versions and diffs
# --------------------------------------------------------------------------------------------------

VersionStatus = Literal["draft", "published", "superseded"]


class MoneyChangeOut(BaseModel):
    base: float
    new: float
    delta: float


class CountChangeOut(BaseModel):
    base: int
    new: int


class PupilChangeOut(BaseModel):
    """A pupil whose stop or time a re-plan changed (times: seconds after midnight)."""

    student_id: str
    reason: str = Field(description="Why: a change named the pupil, their stop closed, or the re-plan moved them")
    old_stop_id: str | None
    new_stop_id: str | None
    old_pickup_s: int | None
    new_pickup_s: int | None
    old_dropoff_s: int | None
    new_dropoff_s: int | None


class ReplanCountsOut(BaseModel):
    """A re-plan's report (``replan.json``) without pupil ids: what managers see."""

    changes: str | None = Field(None, description="The change file's name")
    tolerance_s: int
    cost_per_day: MoneyChangeOut
    cost_per_year: MoneyChangeOut
    n_vehicles: CountChangeOut
    vehicles_changed: list[str] = Field(description="Vehicle-days whose route sheet must be re-issued")
    new_vehicles: list[str]
    trips_changed: list[str]
    n_pupils: int = Field(description="Pupils whose stop or time changed")
    n_unaffected_moved_beyond_tolerance: int
    closed_road_edges: int


class ReplanReportOut(ReplanCountsOut):
    """A re-plan's report (``replan.json``) with each pupil it moved: what officers see."""

    pupils: list[PupilChangeOut]


class VersionOut(BaseModel):
    plan_id: str
    project_id: str
    version: int
    parent_plan_id: str | None
    author: str | None
    status: VersionStatus
    approved_by: str | None
    published_at: str | None = Field(description="ISO 8601 UTC; null for a draft")
    cost_per_day: float
    cost_per_day_delta: float | None = Field(description="Against the parent version; null for a first version")
    cost_per_year_delta: float | None
    report: ReplanReportOut | ReplanCountsOut | None = Field(
        description="The re-plan's report (officers: with pupil ids; managers: counts); null for a planned version"
    )


class PupilMoveOut(BaseModel):
    student_id: str
    old_stop_id: str | None
    new_stop_id: str | None
    old_pickup_s: int | None
    new_pickup_s: int | None
    old_dropoff_s: int | None
    new_dropoff_s: int | None


class StopTimeChangeOut(BaseModel):
    vehicle_id: str = Field(description="Vehicle-day and direction, `V001/to_school`")
    stop_id: str
    old_arrive_s: int | None
    new_arrive_s: int | None


class DiffOut(BaseModel):
    """What changed from one plan to another (``schoolbus diff --json`` and counts).

    Pupil-id lists are filled for officers and admins only (managers: empty, with the ``n_*``
    counts); for managers stop changes leave out door-to-door stops (homes).
    """

    added: list[str]
    removed: list[str]
    moved: list[PupilMoveOut]
    now_unserved: list[str]
    now_served: list[str]
    n_added: int
    n_removed: int
    n_moved: int
    n_now_unserved: int
    n_now_served: int
    n_stop_changed: int
    n_moved_over_5_min: int
    stops_added: list[str]
    stops_removed: list[str]
    stop_times: list[StopTimeChangeOut]
    vehicles_added: list[str]
    vehicles_removed: list[str]
    vehicles_changed: list[str]
    cost_per_day_a: float
    cost_per_day_b: float
    cost_per_year_a: float
    cost_per_year_b: float
    cost_per_day_delta: float
    cost_per_year_delta: float
    currency: str
