@subscriptions
Feature: Subscription catalog
  SUBSCRIPTION events carry options; a SUBSCRIPTION_GROUP may only list
  subscriptions already published; later events for a code are updates.

  Background:
    Given the "subscription-catalog" flow

  Scenario: subscriptions, a group of them, and an update
    When the subscription "INVOICE_NOTIFICATION" is published with its options
    And the subscription "PAYMENT_REMINDER" is published with its options
    And the group "BILLING" is published listing "INVOICE_NOTIFICATION,PAYMENT_REMINDER"
    And the subscription "INVOICE_NOTIFICATION" is updated to INACTIVE
    And the published events are produced
    Then every message decodes with the registered schema
    And nothing is lost or duplicated
    And no violations are reported

  @negative
  Scenario: a group that lists an unknown subscription is flagged
    When the subscription "INVOICE_NOTIFICATION" is published with its options
    And the group "BILLING" is published listing "INVOICE_NOTIFICATION,NEVER_PUBLISHED"
    And the published events are produced
    Then an unknown-reference violation is reported

  @negative
  Scenario Outline: the if/then/else rules: a <type> without its <field>
    When the <kind> "<code>" is published without its <field>
    And the published events are produced
    Then a schema-invalid violation is reported

    Examples:
      | type               | kind         | code                 | field         |
      | SUBSCRIPTION       | subscription | INVOICE_NOTIFICATION | options       |
      | SUBSCRIPTION       | subscription | PAYMENT_REMINDER     | status        |
      | SUBSCRIPTION_GROUP | group        | BILLING              | subscriptions |

  Scenario: one event against the schema alone
    Given the schema "subscription-event"
    When an event is produced with these fields:
      | field     | value                |
      | key       | INVOICE_NOTIFICATION |
      | data.code | INVOICE_NOTIFICATION |
    Then every message decodes with the registered schema
    And no violations are reported
