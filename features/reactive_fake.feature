@fake
Feature: A fake upstream that answers
  The migration scheduler (examples/migration-scheduler) sends a
  ScheduleMigration command per account to "<topic>-commands" and waits on
  the migration topic for the flow whose enrollmentId is its request id. It
  publishes one outcome per account on "<topic>-outcomes": MIGRATED,
  CANCELLED, or TIMED_OUT when no flow ended within its timeout. Events of
  another request are ignored; an event seen twice counts once.

  The fake stands in for the upstream migration service, by the rules in
  examples/migration-scheduler/fake.toml: each command is answered with an
  account-migration flow that carries its account, MPAN, trace token and,
  as enrollmentId, its request id.

  The scheduler is built next to flowharness (cargo build, with or without
  --release); MIGRATION_SCHEDULER, when set, names another binary.

  Background:
    Given the "account-migration" flow

  Scenario: every command is answered, and every account migrates
    Given a fake answers with the rules "examples/migration-scheduler/fake.toml"
    When the command "${MIGRATION_SCHEDULER:-$FLOWHARNESS_BIN_DIR/migration-scheduler} --accounts 1000001,1000002,1000003 --urgent --timeout 20s" is started
    Then within 30 seconds the topic "{topic}-outcomes" has 3 messages with outcome equal to "MIGRATED"
    And within 10 seconds the fake has answered 3 requests: 3 replied and 0 omitted

  Scenario: replies that never come take the scheduler's timeout path
    Given a fake answers with the rules "examples/migration-scheduler/fake.toml" and these faults:
      | fault | percent |
      | none  | 100     |
    When the command "${MIGRATION_SCHEDULER:-$FLOWHARNESS_BIN_DIR/migration-scheduler} --accounts 1000001,1000002 --timeout 2s" is started
    Then within 30 seconds the topic "{topic}-outcomes" has 2 messages with outcome equal to "TIMED_OUT"
    And within 10 seconds the fake has answered 2 requests: 0 replied and 2 omitted

  Scenario: replies later than the timeout take the timeout path too
    Given a fake answers with the rules "examples/migration-scheduler/fake.toml" and these faults:
      | fault | percent | by |
      | late  | 100     | 6s |
    When the command "${MIGRATION_SCHEDULER:-$FLOWHARNESS_BIN_DIR/migration-scheduler} --accounts 1000001,1000002 --urgent --timeout 2s" is started
    Then within 30 seconds the topic "{topic}-outcomes" has 2 messages with outcome equal to "TIMED_OUT"
    And within 20 seconds the fake has answered 2 requests: 2 replied and 0 omitted

  Scenario: a reply for another request is not taken for this one
    Given a fake answers with the rules "examples/migration-scheduler/fake.toml" and these faults:
      | fault             | percent |
      | wrong_correlation | 100     |
    When the command "${MIGRATION_SCHEDULER:-$FLOWHARNESS_BIN_DIR/migration-scheduler} --accounts 1000001 --urgent --timeout 3s" is started
    Then within 30 seconds the topic "{topic}-outcomes" has 1 message with outcome equal to "TIMED_OUT"
    And within 10 seconds the fake has answered 1 request: 1 replied and 0 omitted

  Scenario: duplicated replies are taken once
    Given a fake answers with the rules "examples/migration-scheduler/fake.toml" and these faults:
      | fault     | percent |
      | duplicate | 100     |
    When the command "${MIGRATION_SCHEDULER:-$FLOWHARNESS_BIN_DIR/migration-scheduler} --accounts 1000001,1000002 --urgent --timeout 20s" is started
    Then within 30 seconds the topic "{topic}-outcomes" has 2 messages with outcome equal to "MIGRATED"
    And within 10 seconds the fake has answered 2 requests: 2 replied and 0 omitted

  @asyncapi
  Scenario: a request that is a state of a flow across two topics is answered in that flow
    Given the "tests/asyncapi/payments-request-reply-3.0.yaml" flow
    And a fake answers each Requested with an authorized flow
    When a Requested request is sent with these fields:
      | field     | value                                |
      | paymentId | 3e9b1f0c-2f65-4c8a-9d0e-5a7b6c4d3e21 |
      | accountId | acc-000042                           |
    Then the topic "{topic}" receives a message with paymentId equal to "3e9b1f0c-2f65-4c8a-9d0e-5a7b6c4d3e21" within 20 seconds
    And the topic "{topic}" receives a message with type equal to "AUTHORIZED" within 5 seconds
    And within 10 seconds the fake has answered 1 request: 1 replied and 0 omitted
