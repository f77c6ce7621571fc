@scenario-4
Feature: Scenario 4 — ransomware or compromise
  An attacker had access: the newest backup may be tampered with and every
  credential must be considered known. Isolate, assess (objects and images
  changed since the last configuration export, Redis keys that differ from the
  newest verified backup: names and counts, never values), deploy clean (only
  images whose digest is recorded as known-good), restore
  from a pipeline backup that passes a scan (never one the drill took), rotate
  every secret, keep the audit trail.
  Runbook: "Disaster Recovery › Scenario 4: Ransomware/Compromise".

  Background:
    Given the newest pipeline backup is no older than the RPO, verified and locked where the store locks
    And the target is healthy
    And the backup pipeline has written the backup a disaster would leave, and it verifies
    And the newest backup in the store has been tampered with

  Scenario: Recover from a compromise into a clean namespace with rotated secrets
    When the compromise experiment isolates the namespace
    Then the fault is confirmed: a deny-all policy isolated every pod of the namespace
    When the compromise is assessed: objects and images changed since the last configuration export, Redis keys against the newest verified backup
    And every backup in the store is scanned
    Then the tampered backup is rejected and the newest backup that verifies is chosen
    When SENTINEL is deployed clean into a fresh namespace, from images with their known-good digests
    And every secret is rotated, the Redis password included
    And Redis is restored from the chosen backup
    And the configuration backup exports the rotated Secrets
    Then the old Redis password is rejected with WRONGPASS and the new one works
    And the health endpoint answers healthy
    And the RTO is within the target, with every phase reported
    And the audit timeline is attached
