"""The drills: each scenario of the runbook as harness functions the Gherkin steps call."""
