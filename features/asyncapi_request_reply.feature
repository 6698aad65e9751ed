@asyncapi
Feature: Request and reply across two topics, from AsyncAPI
  The payment authorization document (AsyncAPI 3.0) has a request channel
  and a reply channel; its overlay is inline as x-flowharness.

  Background:
    Given the "tests/asyncapi/payments-request-reply-3.0.yaml" flow

  Scenario: requests and their replies run clean
    When 10 flows are produced with the mix "authorized=4,declined=1"
    Then no violations are reported
    And nothing is lost or duplicated

  Scenario: a reply for another account is caught
    When a declined flow is produced with accountId of its Declined event set to "acc-999999"
    Then a broken-invariant violation is reported
