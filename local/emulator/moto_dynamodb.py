"""A faster writer for the local stack's DynamoDB answers: the same bytes as moto's, without the
per-attribute walk over botocore's shapes.

moto (5.2) serialises every answer through one generic serializer that walks the operation's
output shape. An item attribute is an ``AttributeValue``, a structure of ten optional members
(S, N, B, SS, NS, BS, M, L, NULL, BOOL); for each attribute the serializer asks its attribute
picker for all ten, trying several spellings of each name. On a 31-item page of chat history
that walk is about three quarters of moto's time for the request (a Query of 31 items: ~19 ms
of CPU, of which ~15 ms is the walk), and the local stack makes that Query on every chat turn.

moto stores an attribute as ``{type: value}`` with exactly one member, so the member to
serialise is the one key present. ``DynamoDBSerializer`` serialises that member with moto's own
methods for its shape (base64 for binaries, strings for numbers, the recursion into M and L) and
skips asking for the nine that are absent. Anything else (no key, several keys, an unknown one,
a null value) goes through moto's generic path unchanged. tests/local_stack/test_moto_dynamodb.py
compares both serializers' bodies byte for byte over every attribute type and every read that
returns items.

It is registered in the local stack's moto process only (``install``): the entry is moto's own
table of per-service serializers, where moto registers S3's and SQS's.
"""

from __future__ import annotations

from typing import Any

from moto.core import serialize


class DynamoDBSerializer(serialize.JSONSerializer):
    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name == "AttributeValue" and key and isinstance(value, dict) and len(value) == 1:
            ((kind, inner),) = value.items()
            member = shape.members.get(kind)
            if member is not None and inner is not None:
                wrapper = self.MAP_TYPE()
                self._serialize(wrapper, inner, member, kind)
                self._default_serialize(serialized, wrapper, shape, key)
                return
        super()._serialize_type_structure(serialized, value, shape, key)


def install() -> None:
    """Answer DynamoDB's JSON protocol with ``DynamoDBSerializer`` in this process's moto."""
    serialize.SERVICE_SPECIFIC_SERIALIZERS["dynamodb"] = {"json": DynamoDBSerializer}


def uninstall() -> None:
    serialize.SERVICE_SPECIFIC_SERIALIZERS.pop("dynamodb", None)
