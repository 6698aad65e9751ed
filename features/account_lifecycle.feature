@records
Feature: One topic, several record types
  Each event type of the accounts topic is its own Avro record, registered
  on its own under the topic-record subject strategy; the state of a
  message is the record its writer schema names.

  Background:
    Given the "account-lifecycle" flow

  Scenario: a mix of accounts runs clean
    When 9 flows are produced with the mix "short=1,suspended=1,closed_while_suspended=1"
    Then no violations are reported
    And nothing is lost or duplicated
    And every message decodes with the registered schema

  Scenario: an owner changed between opening and closing is caught
    When a short flow is produced with owner.customerId of its Closed event set to "0b0c5f0e-7f5e-4c43-9b8e-2f7b4c1d9a10"
    Then a broken-invariant violation is reported

  Scenario: a suspension stamped before the account opened is caught
    When a suspended flow is produced with suspendedAt of its Suspended event set to "0"
    Then a time-backwards violation is reported
