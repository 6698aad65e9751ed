"""Reads a topic from our broker with Confluent's own Python client and
decodes every value through our registry with Confluent's AvroDeserializer.
Prints one JSON object per message: {"key": ..., "value": ...}."""
import json
import sys

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

bootstrap, registry, topic, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry}))
consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "third-party-check",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
})
consumer.subscribe([topic])
seen = 0
idle = 0
while seen < expected and idle < 60:
    message = consumer.poll(0.5)
    if message is None:
        idle += 1
        continue
    if message.error():
        print(json.dumps({"error": str(message.error())}), file=sys.stderr)
        continue
    value = deserialize(message.value(), SerializationContext(topic, MessageField.VALUE))
    print(json.dumps({"key": message.key().decode() if message.key() else None, "value": value}, default=str))
    seen += 1
consumer.close()
sys.exit(0 if seen == expected else 1)
