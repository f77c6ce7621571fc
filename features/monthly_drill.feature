@monthly
Feature: Monthly DR drill
  Every month: prove the newest backup restores with the data production has,
  and prove Brain fails over (scenario 1's checks).
  Runbook: "DR Testing › Monthly DR Drill" (1. Backup Verification, 2. Failover Test).

  Scenario: Backup verification — the newest backup restores into a scratch Redis
    Given the target is healthy
    And a fresh backup no older than the RPO has been taken and verified
    When the newest backup is restored into a scratch Redis
    Then its key count equals the backup manifest
    And its key count is within the tolerance of production's DBSIZE
