@orders
Feature: An order saga told by envelopes
  Every event is an OrderEvent envelope: orderId, customerId and occurredAt
  at the top, the event itself a branch of the payload union. The flow's
  paths are read from the message root (orderId, metadata.eventId) or,
  inside a branch, in full (payload.OrderPlaced.lines[].sku).

  Background:
    Given the "order-saga" flow

  Scenario: a mix of orders runs clean
    When 12 flows are produced with the mix "happy=6,declined=3,cancelled=3"
    Then no violations are reported
    And nothing is lost or duplicated
    And every message decodes with the registered schema
    And the events of each key are observed in flow order

  Scenario: fields are read from the envelope and from inside the payload
    When 3 happy flows are produced
    Then 3 complete happy flows are observed
    And every Placed event has payload.OrderPlaced.currency matching "GBP|EUR|USD"
    And every Shipped event has orderId matching "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

  Scenario: a customer swapped in the middle of an order is caught
    When a happy flow is produced with customerId of its Shipped event set to "0b0c5f0e-7f5e-4c43-9b8e-2f7b4c1d9a10"
    Then a broken-invariant violation is reported

  Scenario: a shipment stamped before the order was placed is caught
    When a happy flow is produced with occurredAt of its Shipped event set to "0"
    Then a time-backwards violation is reported

  Scenario: a shipment years after the payment is caught
    When a happy flow is produced with occurredAt of its Shipped event set to "4102444800000"
    Then a timing violation is reported

  Scenario: an order shipped without a payment is caught
    When a happy flow is produced with its Authorized event dropped
    Then a transition-not-allowed violation is reported
