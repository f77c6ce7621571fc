@scenario-1 @monthly
Feature: Scenario 1 — Brain pod failure
  SENTINEL Brain is a stateless Deployment spread over three zones. When Brain
  pods die, Kubernetes replaces them and the remaining replicas carry traffic.
  Runbook: "Disaster Recovery › Scenario 1: Single Pod Failure" and the monthly
  "Failover Test" (`kubectl delete pod -l app=sentinel-brain --grace-period=0`).

  Background:
    Given the target is healthy
    And the canary writer is writing to Redis
    And the availability prober is watching the health endpoint

  Scenario Outline: Brain loses <share> of its pods
    When the pod-kill experiment terminates <share> of the Brain pods with grace period 0
    Then the fault is confirmed: every terminated pod was replaced by a pod with a new UID
    And Brain is fully available again within the RTO
    And availability during the experiment is <availability>
    And no acknowledged write was lost

    Examples:
      | share | availability                      |
      | half  | at least the floor                |
      | all   | measured and the outage reported  |
