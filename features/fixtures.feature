Feature: The seed fixture
  The user's own fixture file goes through the broker as it is.

  Scenario: complex.json is produced and its Completed has no Scheduled
    Given the "account-migration" flow
    When the fixture "fixtures/complex.json" is produced
    Then every message decodes with the registered schema
    And nothing is lost or duplicated
    And an unknown-flow violation is reported
