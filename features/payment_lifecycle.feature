@payments
Feature: A payment lifecycle whose state is an enum field
  One record type, Payment; its enum field status is the state, and every
  change is published again with the new status. An account has many
  payments, each its own flow (paymentId).

  Background:
    Given the "payment-lifecycle" flow

  Scenario: a mix of payments runs clean
    When 12 flows are produced with the mix "captured=6,refunded=2,failed=4"
    Then no violations are reported
    And nothing is lost or duplicated
    And the events of each key are observed in flow order

  Scenario: the status is set by the flow, never drawn at random
    When 4 refunded flows are produced
    Then 4 complete refunded flows are observed
    And every Refunded event has status matching "REFUNDED"
    And every Created event has accountId matching "[0-9]{7}"

  Scenario: a refund straight after creation is caught
    When a captured flow is produced with status of its Authorized event set to "REFUNDED"
    Then a transition-not-allowed violation is reported

  Scenario: an amount changed on capture is caught
    When a captured flow is produced with amountMinor of its Captured event set to "1"
    Then a broken-invariant violation is reported

  Scenario: a capture stamped before its authorization is caught
    When a captured flow is produced with at of its Captured event set to "0"
    Then a time-backwards violation is reported

  Scenario: an authorization long after the 30 s it is allowed is caught
    When a captured flow is produced with at of its Authorized event set to "4102444800000000"
    Then a timing violation is reported
