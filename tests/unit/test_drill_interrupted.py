"""A scenario stopped by an interrupt (Ctrl-C, SIGTERM from CI) is never reported as PASS.

pytest-bdd calls the after-scenario hook from a `finally`, and its step-error hook
only sees `Exception`s: a KeyboardInterrupt used to leave no error behind, so the
half-run scenario was classified PASS (seen on real nodes, scenario 4 stopped while
it waited for health).
"""

from __future__ import annotations

import json
import textwrap

import pytest

pytest_plugins = ["pytester"]


def test_an_interrupted_scenario_gets_error_not_pass(pytester: pytest.Pytester) -> None:
    pytester.makefile(".feature", halted=textwrap.dedent("""\
        Feature: halted
          Scenario: stopped half-way
            Given a first step that runs
            When the operator presses Ctrl-C
            Then a last step that never runs
        """))
    pytester.makepyfile(test_halted=textwrap.dedent("""\
        from pytest_bdd import given, scenarios, then, when
        scenarios("halted.feature")

        @given("a first step that runs")
        def first(): pass

        @when("the operator presses Ctrl-C")
        def interrupt(): raise KeyboardInterrupt

        @then("a last step that never runs")
        def last(): pass
        """))
    result = pytester.runpytest_subprocess("-p", "harness.drills.pytest_plugin", "-p", "no:allure_pytest_bdd",
                                           "-p", "no:cacheprovider")
    records = json.loads((pytester.path / "reports" / "drill-results.json").read_text())
    verdicts = {r["name"]: (r["verdict"], r["reason"]) for r in records["scenarios"]}
    verdict, reason = verdicts["stopped half-way"]
    assert verdict == "ERROR", result.stdout.str()
    assert reason.startswith("Interrupted: stopped in step")  and "the operator presses Ctrl-C" in reason
