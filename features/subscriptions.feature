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
    Then a unknown-reference violation is reported
