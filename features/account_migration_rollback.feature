@rollback
Feature: Account migration rollback
  … → Completed → RollBackInitiated → RolledBack, then a restart.

  Background:
    Given the "account-migration" flow

  Scenario: rolled-back flows restart
    When 3 rollback flows are produced
    Then 3 complete rollback flows are observed
    And 3 complete happy flows are observed
    And the events of each key are observed in flow order
    And no violations are reported

  Scenario: a rollback before completion is caught
    When a rollback flow is produced with its Completed event dropped
    Then a transition-not-allowed violation is reported

  Scenario: an account rolls back and restarts with a new flow id
    When a rollback flow is produced for the account "2000001"
    Then 1 complete rollback flows are observed
    And 1 complete happy flows are observed
    And the RolledBack event of the account "2000001" has accountId equal to "2000001"
    And no violations are reported
