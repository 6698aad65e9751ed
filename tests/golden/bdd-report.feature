@golden
Feature: Golden report
  A pinned feature whose JUnit XML shape is kept in tests/golden.

  Background:
    Given the "account-migration" flow

  Scenario: a passing scenario
    Given the seed 3
    When 2 happy flows are produced
    Then 2 complete happy flows are observed
    And no violations are reported

  Scenario: a failing scenario
    Given the seed 3
    When 1 happy flows are produced
    Then 4 complete happy flows are observed
