@cancel
Feature: Account migration cancel
  Scheduled → [BalanceRetrieved →] Cancelled, then a restart: a new Scheduled
  for the same account with a new flow id, which runs the happy path.

  Background:
    Given the "account-migration" flow

  Scenario: cancelled flows restart with a new flow id
    When 4 cancel flows are produced
    Then 4 complete cancel flows are observed
    And 4 complete happy flows are observed
    And no violations are reported
    And nothing is lost or duplicated

  Scenario: a flow whose Scheduled carries another flow id is caught
    When a cancel flow is produced with enrollmentId of its Scheduled event set to "another-flow-id"
    Then an unknown-flow violation is reported
    And a restart-while-open violation is reported
