@scenario-2
Feature: Scenario 2 — zone failure
  A whole availability zone goes away. Pods in the failed zone are lost; Brain is
  scaled up in the healthy zones and must be fully Ready there within the RTO.
  Two kinds of failure: a graceful drain (any cluster) and a hard stop of every
  machine of the zone (a target that can stop machines: the sandbox's real nodes),
  where the cluster must notice by itself and evict by taint.
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

  @hard-zone-failure
  Scenario: zone-a stops hard, its pods are evicted by taint, and Brain is scaled to 10 in the healthy zones
    Given the target can stop every machine of a zone
    When the zone-outage experiment stops every machine of "zone-a" and scales Brain to 10 replicas
    Then the fault is confirmed: every node of "zone-a" went NotReady and its Brain pods were evicted
    And all 10 Brain replicas were Ready within the RTO
    And no Brain replica ran in "zone-a"
    And availability during the experiment is at least the floor
    And the rollback restarted every node of "zone-a"
