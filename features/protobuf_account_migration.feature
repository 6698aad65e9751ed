@protobuf
Feature: Account migration on Protobuf
  The account-migration events as a Protobuf shop writes them
  (examples/protobuf/account_migration.proto): one envelope message whose
  `event` oneof is the state. Messages go through the registry as
  PROTOBUF, in Confluent's wire format with message indexes.

  Background:
    Given the "examples/protobuf/account-migration.toml" flow

  Scenario: a mix of migrations runs clean
    When 10 flows are produced with the mix "happy=8,cancel=1,rollback=1"
    Then no violations are reported
    And nothing is lost or duplicated
    And every message decodes with the registered schema

  Scenario: an account changed within a flow is caught
    When a happy flow is produced with account_id of its Validated event set to "9999999"
    Then a broken-invariant violation is reported
