@daily
Feature: Daily backup verification
  Every day at 06:00 the newest backup written by the backup pipeline must be
  no older than the RPO plus the backup schedule's slack (a suspended or failing
  hourly job fails here, naming the backup and its age), load into a test Redis
  and hold at least the minimum number of keys. A backup a drill took for itself
  does not count. The verify CronJob judges the same way (`verify pipeline`).
  Runbook: "Backup Verification › Automated Verification".

  Scenario: The newest pipeline backup is fresh, loads and holds enough keys
    Given the newest pipeline backup in the store
    Then it is no older than the RPO plus the backup schedule's slack
    When it is verified at every level
    Then every verification level passes
    And it holds at least the minimum number of keys
