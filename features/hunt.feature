@consumer @hunt
Feature: Finding the smallest failing case
  A hunt restarts the service under test for every trial, on a fresh
  topic and consumer group, with a random set of flows. When a trial
  fails, the hunt re-runs it (a consumer that passes the same input is
  flaky, and is not shrunk), then shrinks it against the service itself:
  fewer accounts, fewer flows, simpler paths, fewer events, less
  interleaving, never breaking the flow contract. The smallest failing
  case is saved as a fixture and a feature file that replays it.

  The reference service (examples/migration-status-service) has three
  planted bugs: rollback-ignored, stale-flow-id, and crossed-accounts,
  which shows only when two accounts interleave on one partition.

  Background:
    Given the "account-migration" flow

  Scenario: a correct service passes every trial
    Given the service under test runs as "${MIGRATION_STATUS_SERVICE:-$FLOWHARNESS_BIN_DIR/migration-status-service} --group {group}" in the consumer group "{topic}-status-service"
    When any 12 flows with the mix "happy=1,cancel=1,rollback=1" are hunted for a case where, within 20 seconds, the topic "{topic}-status" does not show each account's events as:
      | event             | state             | flowId    |
      | Scheduled         | SCHEDULED         | {flow id} |
      | BalanceRetrieved  | BALANCE_RETRIEVED | {flow id} |
      | Validated         | VALIDATED         | {flow id} |
      | Completed         | MIGRATED          | {flow id} |
      | Cancelled         | -                 | -         |
      | RollBackInitiated | ROLLING_BACK      | {flow id} |
      | RolledBack        | SIEMENS           | {flow id} |
    Then the hunt finds no failing case

  Scenario Outline: the hunt finds, shrinks and saves the bug <bug>
    Given the service under test runs as "${MIGRATION_STATUS_SERVICE:-$FLOWHARNESS_BIN_DIR/migration-status-service} --group {group} --bug <bug>" in the consumer group "{topic}-status-service"
    When any 12 flows with the mix "happy=1,cancel=1,rollback=1" are hunted for a case where, within 20 seconds, the topic "{topic}-status" does not show each account's events as:
      | event             | state             | flowId    |
      | Scheduled         | SCHEDULED         | {flow id} |
      | BalanceRetrieved  | BALANCE_RETRIEVED | {flow id} |
      | Validated         | VALIDATED         | {flow id} |
      | Completed         | MIGRATED          | {flow id} |
      | Cancelled         | -                 | -         |
      | RollBackInitiated | ROLLING_BACK      | {flow id} |
      | RolledBack        | SIEMENS           | {flow id} |
    Then the hunt shrinks the failure to <accounts> accounts and <flows> flows
    And the smallest failing case sends its accounts "<order>"
    And the saved replay fails the same way

    Examples:
      | bug              | accounts | flows | order             |
      | rollback-ignored | 1        | 1     | one after another |
      | stale-flow-id    | 1        | 2     | one after another |
      | crossed-accounts | 2        | 2     | interleaved       |
