@checkout
Feature: A checkout saga across two topics
  The checkout service writes Avro envelopes to orders, the payment service
  JSON to payments, each with its own path to the order id. Kafka orders
  nothing across topics: the checker puts each order's events in the order
  of their times, and waits for an event the other topic has not delivered.

  Background:
    Given the "checkout-saga" flow

  Scenario: a mix of checkouts runs clean across both topics
    When 12 flows are produced with the mix "paid=2,declined=1"
    Then no violations are reported
    And nothing is lost or duplicated
    And every message decodes with the registered schema
    And the events of each key are observed in flow order

  Scenario: each topic's fields by its own paths
    When 3 paid flows are produced
    Then 3 complete paid flows are observed
    And every Captured event has paymentRef matching "PAY-[0-9]{8}"
    And every Started event has payload.CheckoutStarted.currency matching "GBP|EUR"
    And every Captured event has order.id matching "[0-9a-f-]{36}"

  Scenario: a checkout completed without a payment is caught
    When a paid flow is produced with its Captured event dropped
    Then a transition-not-allowed violation is reported

  Scenario: a payment for another order is caught
    When a paid flow is produced with order.id of its Captured event set to "0b0c5f0e-7f5e-4c43-9b8e-2f7b4c1d9a10"
    Then an unknown-flow violation is reported

  Scenario: a payment captured long after checkout began is caught
    When a paid flow is produced with at of its Captured event set to "2100-01-01T00:00:00Z"
    Then a timing violation is reported
