"""Confluent's own Python client against our broker and registry, with
Protobuf. The .proto is compiled by protoc (grpcio-tools) into Python
classes, as a Protobuf shop's build would.

  consume BOOTSTRAP REGISTRY TOPIC EXPECTED PROTO MESSAGE
      reads TOPIC with ProtobufDeserializer (schema ids and message indexes
      as we wrote them) and prints one JSON object per message:
      {"key": ..., "value": <proto3 JSON, proto field names>}.
  produce BOOTSTRAP REGISTRY TOPIC FIXTURE PROTO MESSAGE KEY_FIELD
      writes every message of a fixture (proto3 JSON) with
      ProtobufSerializer, which registers the .proto (and its imports, as
      references) in our registry; keyed by KEY_FIELD. Prints the count."""
import importlib
import json
import os
import subprocess
import sys
import tempfile

from google.protobuf import json_format
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def message_class(proto, name):
    out = tempfile.mkdtemp()
    folder, file = os.path.split(os.path.abspath(proto))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{folder}", f"--python_out={out}", file],
        check=True,
    )
    sys.path.insert(0, out)
    module = importlib.import_module(file[: -len(".proto")].replace("-", "_") + "_pb2")
    return getattr(module, name)


def with_format(make, *args):
    # Clients before 2.x want the non-deprecated wire format asked for.
    try:
        return make(*args, {"use.deprecated.format": False})
    except (ValueError, TypeError):
        return make(*args)


def consume(bootstrap, registry, topic, expected, proto, name):
    cls = message_class(proto, name)
    deserialize = with_format(ProtobufDeserializer, cls)
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "third-party-protobuf",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    seen, idle = 0, 0
    while seen < expected and idle < 60:
        message = consumer.poll(0.5)
        if message is None:
            idle += 1
            continue
        if message.error():
            print(json.dumps({"error": str(message.error())}), file=sys.stderr)
            continue
        value = deserialize(message.value(), SerializationContext(topic, MessageField.VALUE))
        as_json = json_format.MessageToDict(value, preserving_proto_field_name=True)
        print(json.dumps({"key": message.key().decode() if message.key() else None, "value": as_json}))
        seen += 1
    consumer.close()
    return 0 if seen == expected else 1


def produce(bootstrap, registry, topic, fixture, proto, name, key_field):
    cls = message_class(proto, name)
    client = SchemaRegistryClient({"url": registry})
    serialize = with_format(ProtobufSerializer, cls, client)
    producer = Producer({"bootstrap.servers": bootstrap})
    with open(fixture) as f:
        entries = json.load(f)
    sent, failed = 0, []

    def delivered(err, _msg):
        if err is not None:
            failed.append(str(err))

    for entry in entries.values():
        for value in entry["messages"]:
            message = json_format.ParseDict(value, cls())
            payload = serialize(message, SerializationContext(topic, MessageField.VALUE))
            producer.produce(topic, key=str(value[key_field]).encode(), value=payload, on_delivery=delivered)
            producer.poll(0)
            sent += 1
    left = producer.flush(30)
    print(sent)
    if failed:
        print(f"{len(failed)} not delivered, the first: {failed[0]}", file=sys.stderr)
    return 0 if left == 0 and not failed else 1


if __name__ == "__main__":
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "consume":
        sys.exit(consume(args[0], args[1], args[2], int(args[3]), args[4], args[5]))
    sys.exit(produce(*args))
