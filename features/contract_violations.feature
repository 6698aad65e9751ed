@negative
Feature: Contract violations are caught
  Each scenario produces a deliberately broken flow; it passes because the
  harness detects the fault with the right rule.

  Background:
    Given the "account-migration" flow

  Scenario Outline: a broken flow is caught
    When a happy flow is produced with its <state> event <fault>
    Then a <rule> violation is reported
    And nothing is lost or duplicated

    Examples:
      | state            | fault      | rule                   |
      | BalanceRetrieved | dropped    | transition-not-allowed |
      | Scheduled        | dropped    | unknown-flow           |
      | Completed        | duplicated | duplicate-event-id     |

  Scenario: two events swapped
    When a happy flow is produced with its BalanceRetrieved and Validated events swapped
    Then a transition-not-allowed violation is reported

  Scenario: an invariant field changed
    When a happy flow is produced with mpan of its BalanceRetrieved event set to "1200023305967"
    Then a broken-invariant violation is reported
