@smoke @quarterly
Feature: Integration smoke — the Gateway serves what Redis holds
  The runbook's quarterly "Full Restore Test" ends with "Run integration tests". This runs
  them against the target as it stands: in the quarterly selection it comes after scenario 3,
  so it exercises the restored environment through its public entry point. A session is
  stored and read back through the Gateway (API key from Secret sentinel-auth), and its rate
  limit counts every request in Redis. Where no Gateway serves requests (kwok's simulated
  pods) the scenarios are NOT RUN, with the reason.
  Runbook: "DR Testing › Monthly DR Drill › 3. Full Restore Test (Quarterly)" ("Run integration tests").

  Background:
    Given a Gateway serves requests on the target
    And a session for a new user is stored through the Gateway

  Scenario: A session stored through the Gateway is served back by every Gateway replica
    When the session is read back until every serving Gateway replica has answered
    Then every read answered 200 with the session's user
    And every serving Gateway replica served the session

  Scenario: The rate limit counts each request in Redis
    When the session is read 5 times with the same API key
    Then X-RateLimit-Remaining decreased by one per request
