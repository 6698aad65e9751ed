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
