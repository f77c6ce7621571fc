@monthly
Feature: Monthly DR drill
  Every month: prove the backup pipeline's newest backup is fresh, verified and
  restores with the data production has, and prove Brain fails over
  (scenario 1's checks). A backup the drill takes for itself never stands in
  for the pipeline's.
  Runbook: "DR Testing › Monthly DR Drill" (1. Backup Verification, 2. Failover Test).

  Scenario: Backup verification — the newest pipeline backup restores into a scratch Redis
    Given the newest pipeline backup is no older than the RPO, verified and locked where the store locks
    And the target is healthy
    When the newest pipeline backup is restored into a scratch Redis
    Then its key count equals the backup manifest
    And its key count is within the tolerance of production's DBSIZE
