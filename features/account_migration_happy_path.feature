@happy
Feature: Account migration happy path
  Scheduled → BalanceRetrieved → Validated → Completed, produced through the
  registry into the broker and read back as a consumer would.

  Background:
    Given the "account-migration" flow

  Scenario: happy flows arrive complete, in order, nothing lost
    Given the seed 7
    When 5 happy flows are produced
    Then 5 complete happy flows are observed
    And the events of each key are observed in flow order
    And every message decodes with the registered schema
    And nothing is lost or duplicated
    And no violations are reported

  Scenario Outline: a mix of paths
    When <flows> flows are produced with the mix "<mix>"
    Then no violations are reported
    And nothing is lost or duplicated

    Examples:
      | flows | mix                            |
      | 10    | happy=80,cancel=15,rollback=5  |
      | 6     | happy=1,cancel=1,rollback=1    |

  Scenario: one flow for a named account, its fields as the contract says
    When a happy flow is produced for the account "1000001"
    Then 1 complete happy flows are observed
    And the Scheduled event of the account "1000001" has accountId equal to "1000001"
    And the Completed event of the account "1000001" has accountId equal to "1000001"
    And every Scheduled event has mpan matching "[0-9]{13}"
    And every Scheduled event has metadata.eventId matching "[0-9a-f-]{36}"
    And no violations are reported

  Scenario: flows for several accounts, with fields set from a table
    When a happy flow is produced with these fields:
      | event     | field     | value         |
      | *         | accountId | 1000042       |
      | *         | mpan      | 1200023305967 |
    Then no violations are reported
    And the BalanceRetrieved event of the account "1000042" has mpan equal to "1200023305967"
    When happy flows are produced for the accounts "1000043, 1000044"
    Then 2 complete happy flows are observed
    And the Completed event of the account "1000044" has accountId equal to "1000044"

  Scenario: a consumer group that keeps up has no lag
    Given the broker and registry
    When 3 happy flows are produced
    And the consumer group "audit" reads the topic
    Then the consumer group "audit" has caught up within 10 seconds
