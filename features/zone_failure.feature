@scenario-2
Feature: Scenario 2 — zone failure
  A whole availability zone goes away. Pods in the failed zone are lost; Brain is
  scaled up in the healthy zones and must be fully Ready there within the RTO.
  Runbook: "Disaster Recovery › Scenario 2: Zone Failure"
  (`kubectl scale deployment sentinel-brain --replicas=10`).

  Background:
    Given the target is healthy
    And the availability prober is watching the health endpoint

  Scenario: zone-a fails and Brain is scaled to 10 in the healthy zones
    When the zone-drain experiment drains "zone-a" and scales Brain to 10 replicas
    Then the fault is confirmed: every node of "zone-a" was unschedulable and held no Brain pod
    And all 10 Brain replicas were Ready within the RTO
    And no Brain replica ran in "zone-a"
    And availability during the experiment is at least the floor
    And the rollback uncordoned every node of "zone-a"
