@asyncapi
Feature: A flow from an AsyncAPI document
  The shop's orders are described by an AsyncAPI 3.0 document: one topic,
  four Avro record types (each registered under the topic-record subject
  strategy), the order id as correlationId, 12 partitions in the Kafka
  binding. Its overlay, tests/asyncapi/orders-3.0.flowharness.toml, adds
  the order's lifecycle.

  Background:
    Given the "tests/asyncapi/orders-3.0.json" flow

  Scenario: a mix of orders runs clean
    When 12 flows are produced with the mix "delivered=3,abandoned=1"
    Then no violations are reported
    And nothing is lost or duplicated
    And every message decodes with the registered schema

  Scenario: a customer changed within an order is caught
    When a delivered flow is produced with customerId of its Shipped event set to "someone-else"
    Then a broken-invariant violation is reported

  Scenario: a shipment stamped before the payment is caught
    When a delivered flow is produced with at of its Shipped event set to "0"
    Then a time-backwards violation is reported
