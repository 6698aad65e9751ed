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

  Scenario: an event that does not match the schema
    When a happy flow is produced with its Validated event not matching the schema
    Then a schema-invalid violation is reported
    And nothing is lost or duplicated

  Scenario Outline: a foreign producer's bytes
    When the bytes "<bytes>" are produced with the key "<key>"
    Then a schema-invalid violation is reported for the account "<key>"

    Examples: framed with an unknown schema id, and not framed at all
      | bytes             | key     |
      | 00 00 00 03 e7 02 | 1000901 |
      | 01 02 03          | 1000902 |

  Scenario Outline: a foreign producer's text
    When the text '<text>' is produced with the key "<key>"
    Then a schema-invalid violation is reported for the account "<key>"

    Examples:
      | text            | key     |
      | {"event": null} | 1000903 |
      | not json at all | 1000904 |

  Scenario: two events swapped
    When a happy flow is produced with its BalanceRetrieved and Validated events swapped
    Then a transition-not-allowed violation is reported

  Scenario: an invariant field changed
    When a happy flow is produced with mpan of its BalanceRetrieved event set to "1200023305967"
    Then a broken-invariant violation is reported
