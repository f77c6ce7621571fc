@coverage @monthly
Feature: Backup coverage — every row of "What to Back Up" is backed up and checked
  The runbook names four things to back up. Each is checked against what the
  backup pipelines left (a drill's own backups never count), over a window of
  history (48 h by default), and every problem is named: a gap with its start
  and end, a drifted object by name (never its values), a lifecycle rule with
  the expected and the actual days, a missing day of logs.
  Runbook: "What to Back Up", "Configuration Backup", "Log Archival › Retention Policy".

  Scenario: Redis — hourly snapshots with no gap longer than the RPO
    When the pipeline's Redis backups of the coverage window are checked
    Then the newest is no older than the RPO, no gap exceeds it and every backup has its manifest

  Scenario: Configuration — the newest export decrypts and matches the live namespace
    When the newest pipeline configuration export is checked against the live namespace
    Then it decrypts with the configured key and no object has drifted

  Scenario: Logs — the retention table is enforced and every day is archived
    When the log bucket's lifecycle rules and daily archives are checked
    Then the lifecycle matches the retention table and no day of any log type is missing

  Scenario: Prometheus — metrics history is shipped by remote write
    When Prometheus's configuration is checked
    Then it names a remote_write endpoint, and whether that endpoint answers is reported
