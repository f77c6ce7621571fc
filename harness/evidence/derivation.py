"""One scenario's figures and verdict, derived again from its raw observations and compared with what it stated.

The input is what a bundle holds for the scenario: the JSON Lines streams of
`observations/` (harness/measure/observations.py) and its entry in `run.json`.
Nothing the drill computed is used to derive: the figures come from the raw
lines and the targets recorded among them, through the same functions the
drill used (harness/measure/); the stated results are only what the derived
ones are compared with. Every comparison is a `Figure`; one that differs beyond
the rounding of the stated value is a `Difference`.

The derived verdict: INVALID when a fault was injected but no proof observed
it (or a proof observed it missing); FAIL when a required figure breaches its
target or cannot be derived; PASS otherwise. A stated FAIL or ERROR that the
observations do not explain (a check they do not cover: a rotated password, a
rejected backup) is a note, not a difference: it is never a pass in disguise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.drills.rpo import RpoObservation, canary_boundary
from harness.measure import observations as obs
from harness.measure.availability import AvailabilityReport, Sample, in_window, summarise
from harness.measure.canary import CanaryReport, canary_from_observations, read_back_from_observations
from harness.measure.clock import FAULT_INJECTED, Event, find_event, phases_of, rto_of
from harness.measure.figures import backup_age_s, key_drift

#: the stated seconds are rounded to the millisecond, ratios to 5 decimals, clock marks to the microsecond
SECONDS_TOLERANCE = 0.001
RATIO_TOLERANCE = 0.00001
MONOTONIC_TOLERANCE = 0.000001

#: the measurement names the drill states (harness/drills/pipeline.py AGE_MEASURE, preconditions, cluster_loss)
RTO = "RTO"
RPO = "RPO"
LONGEST_OUTAGE = "longest outage"
AVAILABILITY = "availability"
PIPELINE_AGE = "age of the newest pipeline backup"
WRITES_LOST = "acknowledged writes lost"
WRITES_ACKNOWLEDGED = "acknowledged writes"
#: which recorded target each enforced figure is compared with
#: the pipeline backup's age limit: the RPO, or for the daily check the RPO + the schedule's slack (derived)
PIPELINE_AGE_LIMIT = "pipeline backup age limit"
BOUNDARY_MISSING = "canary writes the restored backup holds that did not come back"
BOUNDARY_PRESENT_AFTER = "canary writes after the restored backup present anyway"
FIGURE_TARGETS = {RTO: "rto_seconds", RPO: "rpo_seconds", LONGEST_OUTAGE: "rto_seconds",
                  PIPELINE_AGE: PIPELINE_AGE_LIMIT, AVAILABILITY: "availability_floor"}


@dataclass(frozen=True)
class Figure:
    """One compared figure: what the bundle states and what the observations give (None: not there)."""

    name: str
    stated: Any
    derived: Any
    same: bool


@dataclass(frozen=True)
class Requirement:
    """A figure the scenario had to meet: derived value (None: not derivable), bound and target."""

    figure: str
    derived: float | None
    bound: str  # "max" | "min"
    target: float

    @property
    def met(self) -> bool:
        if self.derived is None:
            return False
        return self.derived <= self.target if self.bound == "max" else self.derived >= self.target

    def describe(self) -> str:
        value = "not derivable from the observations" if self.derived is None else fmt_value(self.derived)
        return f"{self.figure} {value} vs {'≤' if self.bound == 'max' else '≥'} {fmt_value(self.target)}"


@dataclass(frozen=True)
class ScenarioRecompute:
    name: str
    stated_verdict: str
    derived_verdict: str
    figures: tuple[Figure, ...]
    requirements: tuple[Requirement, ...]
    notes: tuple[str, ...]

    @property
    def differences(self) -> tuple[Figure, ...]:
        return tuple(f for f in self.figures if not f.same)


def fmt_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if isinstance(value, bool) else "none"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1 else f"{value:.3f}"
    return str(value)


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return bool(a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= tolerance
    return bool(a == b)


@dataclass
class _Scenario:
    """The working state of one recomputation."""

    entry: Mapping[str, Any]
    streams: Mapping[str, Sequence[Mapping[str, Any]]]
    figures: list[Figure] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: dict[str, float] = field(default_factory=dict)

    def lines(self, stream: str) -> Sequence[Mapping[str, Any]]:
        return self.streams.get(stream, ())

    def compare(self, name: str, stated: Any, derived: Any, tolerance: float = 0.0) -> None:
        self.figures.append(Figure(name, stated, derived, _close(stated, derived, tolerance)))

    def stated_measurement(self, name: str) -> Mapping[str, Any] | None:
        return next((m for m in self.entry.get("measurements") or () if m.get("name") == name), None)

    def detail(self, key: str) -> Mapping[str, Any]:
        value = (self.entry.get("details") or {}).get(key)
        return value if isinstance(value, Mapping) else {}

    def require(self, figure: str, derived: float | None, bound: str, target: float | None) -> None:
        if target is None:
            self.notes.append(f"{figure}: no target recorded for it; not judged")
            return
        if any(r.figure == figure for r in self.requirements):
            return
        self.requirements.append(Requirement(figure, derived, bound, float(target)))

    def measurement(self, name: str, derived: float | None, target_name: str) -> None:
        """Compare a stated measurement (value, target, met) with the derived value and the recorded target."""
        stated = self.stated_measurement(name)
        target = self.targets.get(target_name)
        if stated is None:
            if derived is not None:
                self.notes.append(f"{name}: derived {fmt_value(derived)} s, not stated")
            return
        self.compare(f"{name} (s)", stated.get("measured_s"), derived, SECONDS_TOLERANCE)
        self.compare(f"{name} target (s)", stated.get("target_s"), target, SECONDS_TOLERANCE)
        if derived is not None and target is not None:
            self.compare(f"{name} met", stated.get("met"), derived <= target)


def _targets(s: _Scenario, config: Mapping[str, Any]) -> None:
    for line in s.lines(obs.TARGETS):
        if isinstance(line.get("value"), (int, float)):
            s.targets[str(line["name"])] = float(line["value"])
    if not s.targets:  # without them nothing can be judged: their absence is itself a difference
        s.compare("targets recorded", list(obs.TARGET_SETTINGS), [])
    for name, value in s.targets.items():
        if isinstance(config.get(name), (int, float)):
            s.compare(f"target {name} (run config vs observations)", config[name], value, 1e-9)


def _clock(s: _Scenario) -> list[Event]:
    events = [Event.from_observation(line) for line in s.lines(obs.CLOCK)]
    timeline = s.entry.get("timeline") or {}
    stated_events = timeline.get("events") or []
    s.compare("clock events", [e.get("name") for e in stated_events], [e.name for e in events])
    for stated, event in zip(stated_events, events):
        if stated.get("name") == event.name:
            s.compare(f"event {event.name} (monotonic)", stated.get("monotonic"), event.monotonic, MONOTONIC_TOLERANCE)
            s.compare(f"event {event.name} (UTC)", stated.get("at"), event.at.isoformat())
    stated_phases = timeline.get("phases") or []
    derived_phases = phases_of(events)
    if len(stated_phases) != len(derived_phases):
        s.compare("phases", [p.get("name") for p in stated_phases], [p.name for p in derived_phases])
    for stated_phase, phase in zip(stated_phases, derived_phases):
        s.compare(f"phase {phase.name} (s)", stated_phase.get("seconds"), phase.seconds, SECONDS_TOLERANCE)
    rto = rto_of(events, target_s=s.targets.get("rto_seconds", float("nan")))
    s.measurement(RTO, rto.measured_s if rto else None, "rto_seconds")
    if find_event(events, FAULT_INJECTED) is not None:  # every scenario that injects a fault has an RTO
        s.require(RTO, rto.measured_s if rto else None, "max", s.targets.get("rto_seconds"))
    return events


def _availability(s: _Scenario, events: Sequence[Event]) -> AvailabilityReport | None:
    windows = [line for line in s.lines(obs.CHECKS) if line.get("kind") == "window"]
    stated = s.entry.get("availability") or None
    if not windows:
        if stated:
            s.compare("availability", stated.get("availability"), None)
        return None
    window = windows[-1]
    since_event = find_event(events, str(window.get("since_event")))
    if since_event is None:
        s.compare("availability window start", window.get("since_event"), None)
        return None
    s.compare("availability window start (monotonic)", window.get("since_monotonic"), since_event.monotonic,
              MONOTONIC_TOLERANCE)
    until_event = find_event(events, str(window["until_event"])) if window.get("until_event") else None
    until = until_event.monotonic if until_event else float(window["until_monotonic"])
    interval = s.targets.get("probe_interval_seconds", float(window.get("interval_s") or 0.0))
    samples = [Sample.from_observation(line) for line in s.lines(obs.PROBES)]
    report = summarise(in_window(samples, since_event.monotonic, until), interval)
    stated = stated or {}
    s.compare("availability", stated.get("availability"), report.availability, RATIO_TOLERANCE)
    s.compare("availability: longest outage (s)", stated.get("longest_outage_s"), report.longest_outage_s,
              SECONDS_TOLERANCE)
    s.compare("availability: outages", stated.get("outages"), report.outages)
    s.compare("availability: probe samples", stated.get("samples"), report.samples)
    s.compare("availability: healthy probe samples", stated.get("ok_samples"), report.ok_samples)
    floor = s.detail(AVAILABILITY)
    if floor:
        s.compare("availability floor: measured", floor.get("measured"), report.availability, RATIO_TOLERANCE)
        s.compare("availability floor: met", floor.get("met"), report.availability >= float(floor.get("floor") or 0))
    return report


def _canary(s: _Scenario) -> CanaryReport | None:
    report = canary_from_observations(list(s.lines(obs.CANARY)))
    stated = s.entry.get("canary") or None
    if report is None:
        if stated:
            s.compare("canary writes lost", stated.get("lost_count"), None)
        return None
    stated = stated or {}
    s.compare("canary writes lost", stated.get("lost_count"), report.lost_count)
    s.compare("canary holes", stated.get("holes"), list(report.holes))
    newest = stated.get("newest_present") or {}
    s.compare("newest canary present (seq)", newest.get("seq"),
              report.newest_present.seq if report.newest_present else None)
    last = stated.get("last_acknowledged") or {}
    s.compare("last acknowledged canary (seq)", last.get("seq"),
              report.last_acknowledged.seq if report.last_acknowledged else None)
    loss = report.data_loss_window_s if report.newest_present or not report.lost_seqs else None
    s.compare("canary data-loss window (s)", stated.get("data_loss_window_s"), loss, SECONDS_TOLERANCE)
    return report


def _backup(s: _Scenario, role: str) -> Mapping[str, Any] | None:
    lines = [line for line in s.lines(obs.BACKUPS) if line.get("role") == role]
    return lines[-1] if lines else None


def _time(line: Mapping[str, Any], key: str) -> datetime:
    return datetime.fromisoformat(str(line[key]))


def _pipeline_age(s: _Scenario) -> None:
    """The pipeline's newest backup against the RPO (the preflight) or the RPO + the schedule's slack (the daily)."""
    newest = _backup(s, obs.PIPELINE_NEWEST)
    if newest is None:
        if s.stated_measurement(PIPELINE_AGE) is not None:
            s.compare(f"{PIPELINE_AGE} (s)", (s.stated_measurement(PIPELINE_AGE) or {}).get("measured_s"), None)
        return
    age = backup_age_s(_time(newest, "point_in_time"), _time(newest, "observed_at"))
    limit = s.targets.get("rpo_seconds")
    if newest.get("limit") == obs.LIMIT_RPO_PLUS_SLACK and limit is not None:
        slack = s.targets.get("backup_schedule_slack_seconds")
        limit = limit + slack if slack is not None else None
    if limit is not None:
        s.targets[PIPELINE_AGE_LIMIT] = limit
    s.measurement(PIPELINE_AGE, age, PIPELINE_AGE_LIMIT)
    s.require(PIPELINE_AGE, age, "max", limit)


def _rpo(s: _Scenario, events: Sequence[Event]) -> None:
    """The restored backup's cut through the canary writes, and the RPO it gives (harness.drills.rpo)."""
    restored = _backup(s, obs.RESTORED_BACKUP)
    fault = find_event(events, FAULT_INJECTED)
    read = read_back_from_observations(list(s.lines(obs.CANARY)))
    if restored is None or fault is None or read is None:
        if s.stated_measurement(RPO) is not None:
            s.compare("RPO (s)", (s.stated_measurement(RPO) or {}).get("measured_s"), None)
        return
    acknowledged, _, presence = read
    high = restored.get("canary_high_water")
    boundary = canary_boundary(acknowledged, {seq for seq, ok in presence.items() if ok},
                               backup_high_water=int(high) if isinstance(high, int) else None)
    rpo = RpoObservation(str(restored.get("id")), str(restored.get("origin")), _time(restored, "point_in_time"),
                         fault.at, boundary)
    stated, cut = s.detail("rpo"), s.detail("canary_boundary")
    s.compare("RPO restored backup", stated.get("backup_id"), rpo.backup_id)
    s.compare("RPO restored backup's origin", stated.get("origin"), rpo.origin)
    s.compare("RPO how", stated.get("how"), rpo.how)
    s.compare("canary boundary: writes present before it", cut.get("present_before_boundary"), boundary.present_before)
    s.compare("canary boundary: writes absent after it", cut.get("absent_after_boundary"), boundary.absent_after)
    s.compare("canary boundary: writes missing before it", cut.get("missing_before_boundary"),
              list(boundary.missing_before[:20]))
    s.compare("canary boundary: writes present after it", cut.get("present_after_boundary"),
              list(boundary.present_after[:20]))
    s.measurement(RPO, rpo.rpo_s, "rpo_seconds")
    s.require(RPO, rpo.rpo_s, "max", s.targets.get("rpo_seconds"))
    s.require(BOUNDARY_MISSING, float(len(boundary.missing_before)), "max", 0.0)
    s.require(BOUNDARY_PRESENT_AFTER, float(len(boundary.present_after)), "max", 0.0)


def _restored(s: _Scenario) -> None:
    for line in s.lines(obs.RESTORED):
        check = line.get("check")
        if check == "restored_keys":
            stated = s.detail("restored_check")
            for key in ("keys_in_loaded_file", "manifest_key_count", "canary_high_water", "canary_readable"):
                s.compare(f"restored {key.replace('_', ' ')}", stated.get(key), line.get(key))
            mismatch = abs(int(line.get("keys_in_loaded_file") or 0) - int(line.get("manifest_key_count") or 0))
            s.require("restored keys differing from the backup's manifest", float(mismatch), "max", 0.0)
            if line.get("canary_high_water") is not None:  # a backup older than every canary holds none to read
                s.require("restored newest canary readable", 1.0 if line.get("canary_readable") else 0.0, "min", 1.0)
        elif check == "scratch_restore":
            stated = s.detail("scratch_restore")
            loaded, production = int(line.get("keys_loaded") or 0), int(line.get("production_dbsize") or 0)
            in_file = loaded + int(line.get("keys_expired_on_load") or 0)
            for key in ("keys_loaded", "keys_expired_on_load", "manifest_key_count", "production_dbsize"):
                s.compare(f"scratch restore {key.replace('_', ' ')}", stated.get(key), line.get(key))
            drift = key_drift(loaded, production)
            s.compare("scratch restore drift from production", stated.get("drift"), drift, RATIO_TOLERANCE)
            s.require("scratch restore keys differing from the manifest",
                      float(abs(in_file - int(line.get("manifest_key_count") or 0))), "max", 0.0)
            s.require("scratch restore drift from production", drift, "max", s.targets.get("dbsize_tolerance"))


def _declared(s: _Scenario, derived: Mapping[str, float | None]) -> None:
    """The requirements the drill declared as it checked them; their targets must be the recorded ones."""
    for line in s.lines(obs.CHECKS):
        if line.get("kind") != "requirement":
            continue
        figure, bound, target = str(line.get("figure")), str(line.get("bound")), line.get("target")
        recorded = s.targets.get(FIGURE_TARGETS.get(figure, ""))
        if recorded is not None:
            s.compare(f"{figure} target (checked vs recorded)", target, recorded, 1e-9)
        if figure in derived:
            s.require(figure, derived[figure], bound, recorded if recorded is not None else _number(target))
        else:
            s.notes.append(f"{figure}: required by the drill, not derivable from the observations; not recomputed")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _faults(s: _Scenario, events: Sequence[Event]) -> str | None:
    """INVALID when a fault was injected and no proof observed it (or one observed it missing); else None."""
    proofs = s.lines(obs.FAULTS)
    stated = s.detail("fault_proof")
    if proofs:
        s.compare("fault observed", stated.get("observed"), bool(proofs[-1].get("observed")))
    if any(not p.get("observed") for p in proofs):
        return "INVALID"
    if find_event(events, FAULT_INJECTED) is not None and not proofs:
        s.notes.append("a fault was injected but no fault proof was recorded")
        return "INVALID"
    return None


def _verdict(s: _Scenario, invalid: str | None) -> str:
    if invalid:
        return invalid
    return "FAIL" if any(not r.met for r in s.requirements) else "PASS"


def _judge(s: _Scenario, stated: str, derived: str, events: Sequence[Event]) -> None:
    if stated == derived:
        return
    reason = s.entry.get("reason") or "no reason given"
    if derived == "PASS" and stated in ("FAIL", "ERROR"):
        s.notes.append(f"stated {stated} ({reason}): a check the raw observations do not cover; every recomputed "
                       "figure met its target")
        return
    if derived == "PASS" and stated == "INVALID" and find_event(events, FAULT_INJECTED) is None:
        s.notes.append(f"stated INVALID ({reason}): the clock shows no fault injected, so nothing was proven")
        return
    s.compare("verdict", stated, derived)


def recompute_scenario(entry: Mapping[str, Any], streams: Mapping[str, Sequence[Mapping[str, Any]]], *,
                       config: Mapping[str, Any]) -> ScenarioRecompute:
    """Derive `entry`'s figures and verdict from `streams` and compare them with what `entry` states."""
    s = _Scenario(entry, streams)
    _targets(s, config)
    events = _clock(s)
    availability = _availability(s, events)
    canary = _canary(s)
    _pipeline_age(s)
    _rpo(s, events)
    _restored(s)
    lost = (canary.lost_count + len(canary.holes)) if canary is not None else None
    acknowledged = len([line for line in s.lines(obs.CANARY) if line.get("kind") == "write"
                        and line.get("acknowledged")]) if s.lines(obs.CANARY) else None
    _declared(s, {
        LONGEST_OUTAGE: availability.longest_outage_s if availability else None,
        AVAILABILITY: availability.availability if availability else None,
        RTO: next((r.derived for r in s.requirements if r.figure == RTO), None),
        RPO: next((r.derived for r in s.requirements if r.figure == RPO), None),
        PIPELINE_AGE: next((r.derived for r in s.requirements if r.figure == PIPELINE_AGE), None),
        WRITES_LOST: float(lost) if lost is not None else None,
        WRITES_ACKNOWLEDGED: float(acknowledged) if acknowledged is not None else None,
    })
    if availability is not None and s.stated_measurement(LONGEST_OUTAGE) is not None:
        s.measurement(LONGEST_OUTAGE, availability.longest_outage_s, "rto_seconds")
    stated = str(entry.get("verdict"))
    derived = _verdict(s, _faults(s, events))
    _judge(s, stated, derived, events)
    known = {RTO, RPO, PIPELINE_AGE, LONGEST_OUTAGE}
    for m in entry.get("measurements") or ():
        if m.get("name") not in known:
            s.notes.append(f"{m.get('name')}: {m.get('note') or 'stated'}; not recomputed (needs the store's history, "
                           "not in the bundle)")
    return ScenarioRecompute(str(entry.get("name")), stated, derived, tuple(s.figures), tuple(s.requirements),
                             tuple(s.notes))
