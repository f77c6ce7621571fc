"""Drills against the FakeTarget: the real experiments, activities, guard and verdicts; an in-memory cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.drills.pytest_plugin import classify
from harness.drills.scenario import DrillScenario
from harness.evidence.record import ScenarioRecord, Verdict
from tests.fakes.target import NAME, FakeTarget, fake_target


@pytest.fixture
def confirmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_CONFIRM_DESTRUCTIVE", NAME)


@pytest.fixture
def target(tmp_path: Path, confirmed: None) -> Iterator[FakeTarget]:
    with fake_target(tmp_path) as t:
        yield t


@pytest.fixture
def make_target(tmp_path: Path, confirmed: None) -> Iterator[Callable[..., FakeTarget]]:
    opened: list[Any] = []

    def make(**kwargs: Any) -> FakeTarget:
        context = fake_target(tmp_path / f"t{len(opened)}", **kwargs)
        opened.append(context)
        return context.__enter__()

    yield make
    for context in opened:
        context.__exit__(None, None, None)


@pytest.fixture
def drill_for(tmp_path: Path) -> Callable[[FakeTarget], DrillScenario]:
    def make(target: FakeTarget) -> DrillScenario:
        return DrillScenario(target.settings, ScenarioRecord("unit", "unit.feature"), tmp_path / "journals")

    return make


def verdict_of(step: Callable[[], object]) -> tuple[Verdict, str]:
    """Run a drill step the way the pytest plugin judges it."""
    try:
        step()
    except Exception as exc:  # noqa: BLE001 - the verdict is what is tested
        return classify(exc)
    return classify(None)
