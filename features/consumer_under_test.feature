@consumer
Feature: A consumer under test
  The reference migration-status service (examples/migration-status-service)
  reads the migration topic in its consumer group and publishes each
  account's status, as JSON, on "<topic>-status". The harness starts it
  against the run's broker and registry, feeds it flows, waits for its
  group to catch up, and checks what it published against what the flows
  imply, exactly as a consumer team tests its own service.

  The service is built next to flowharness (cargo build, with or without
  --release); MIGRATION_STATUS_SERVICE, when set, names another binary.

  Background:
    Given the "account-migration" flow

  Scenario: the service follows every account through happy, cancel and rollback flows
    When the command "${MIGRATION_STATUS_SERVICE:-$FLOWHARNESS_BIN_DIR/migration-status-service} --group status-{topic}" is started
    And 24 flows are produced with the mix "happy=1,cancel=1,rollback=1"
    Then no violations are reported
    And the consumer group "status-{topic}" has caught up within 60 seconds
    And within 30 seconds the topic "{topic}-status" shows each account's events as:
      | event             | state             | flowId    |
      | Scheduled         | SCHEDULED         | {flow id} |
      | BalanceRetrieved  | BALANCE_RETRIEVED | {flow id} |
      | Validated         | VALIDATED         | {flow id} |
      | Completed         | MIGRATED          | {flow id} |
      | Cancelled         | -                 | -         |
      | RollBackInitiated | ROLLING_BACK      | {flow id} |
      | RolledBack        | SIEMENS           | {flow id} |

  # Each planted bug must fail the check above: a failing step is what
  # these scenarios are for, and they pass when it fails.
  @expected-failure
  Scenario Outline: the suite catches a service with the bug <bug>
    When the command "${MIGRATION_STATUS_SERVICE:-$FLOWHARNESS_BIN_DIR/migration-status-service} --group status-{topic} --bug <bug>" is started
    And 24 flows are produced with the mix "happy=1,cancel=1,rollback=1"
    Then the consumer group "status-{topic}" has caught up within 60 seconds
    And within 10 seconds the topic "{topic}-status" shows each account's events as:
      | event             | state             | flowId    |
      | Scheduled         | SCHEDULED         | {flow id} |
      | BalanceRetrieved  | BALANCE_RETRIEVED | {flow id} |
      | Validated         | VALIDATED         | {flow id} |
      | Completed         | MIGRATED          | {flow id} |
      | Cancelled         | -                 | -         |
      | RollBackInitiated | ROLLING_BACK      | {flow id} |
      | RolledBack        | SIEMENS           | {flow id} |

    Examples:
      | bug              |
      | rollback-ignored |
      | stale-flow-id    |
