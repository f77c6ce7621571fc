@daily
Feature: Daily backup verification
  Every day at 06:00 the newest backup must load into a test Redis and hold at
  least the minimum number of keys.
  Runbook: "Backup Verification › Automated Verification".

  Scenario: The newest backup loads and holds enough keys
    Given the newest backup in the store
    When it is verified at every level
    Then every verification level passes
    And it holds at least the minimum number of keys
