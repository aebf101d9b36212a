"""The sinks' hand decoders (tests/alloy_wire.py) on bytes written by hand from the specifications."""

from __future__ import annotations

import struct

import alloy_wire
import pytest


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, value: bytes | int) -> bytes:
    """One protobuf field: an int as a varint (wire type 0), bytes length-delimited (type 2)."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def literal_block(data: bytes) -> bytes:
    """A snappy block of one literal (the spec's longer-literal form past 60 bytes)."""
    if len(data) <= 60:
        return varint(len(data)) + bytes([(len(data) - 1) << 2]) + data
    return varint(len(data)) + bytes([61 << 2]) + (len(data) - 1).to_bytes(2, "little") + data


def test_snappy_literals_and_overlapping_copies() -> None:
    # "abc", then a copy of 9 bytes from offset 3 (1-byte offset form: length-4 in bits 2-4).
    assert alloy_wire.snappy_block(bytes([12, 0x08]) + b"abc" + bytes([(5 << 2) | 1, 3])) == b"abc" * 4
    # "xy", then a copy of 6 bytes from offset 2 with a 2-byte offset (tag: length-1 << 2 | 2).
    assert alloy_wire.snappy_block(bytes([8, 0x04]) + b"xy" + bytes([(5 << 2) | 2, 2, 0])) == b"xy" * 4
    long = bytes(range(200))
    assert alloy_wire.snappy_block(literal_block(long)) == long


def test_snappy_refuses_a_wrong_length_and_a_copy_before_the_start() -> None:
    with pytest.raises(ValueError, match="says 5 bytes"):
        alloy_wire.snappy_block(bytes([5, 0x08]) + b"abc")
    with pytest.raises(ValueError, match="before the start"):
        alloy_wire.snappy_block(bytes([4, (0 << 2) | 1, 9]))


def test_remote_write_request() -> None:
    label = field(1, b"__name__") + field(2, b"up")
    sample = varint(1 << 3 | 1) + struct.pack("<d", 0.5) + field(2, 1_764_496_800_000)
    series = field(1, label) + field(1, field(1, b"env") + field(2, b"prod")) + field(2, sample)
    [decoded] = alloy_wire.write_request(literal_block(field(1, series)))
    assert decoded.labels == {"__name__": "up", "env": "prod"}
    assert decoded.samples == [(1_764_496_800_000, 0.5)]


def test_loki_push_request() -> None:
    stamp = field(1, 1_764_496_800) + field(2, 250)
    entry = field(1, stamp) + field(2, b"hello") + field(3, field(1, b"started_at") + field(2, b"2026"))
    stream = field(1, b'{env="prod"}') + field(2, entry)
    [decoded] = alloy_wire.push_request(literal_block(field(1, stream)))
    assert decoded.labels == '{env="prod"}'
    assert decoded.line == "hello"
    assert decoded.timestamp_ns == 1_764_496_800_000_000_250
    assert decoded.metadata == {"started_at": "2026"}


def test_otlp_trace_request() -> None:
    def pair(key: bytes, value: bytes) -> bytes:
        return field(1, key) + field(2, value)

    resource = field(1, pair(b"service.name", field(1, b"api")))
    negative = varint((1 << 64) - 7)  # int64 -7 as protobuf writes it: ten bytes of two's complement
    span = (
        field(1, bytes.fromhex("00112233445566778899aabbccddeeff"))
        + field(5, b"GET /")
        + field(9, pair(b"kfm.job.started_at_unix", field(3, 1_764_496_800)))
        + field(9, pair(b"delta", varint(3 << 3) + negative))
        + field(9, pair(b"ok", field(2, 1)))
    )
    request = field(1, field(1, resource) + field(2, field(2, span)))
    [decoded] = alloy_wire.trace_request(request)
    assert decoded.name == "GET /"
    assert decoded.trace_id == "00112233445566778899aabbccddeeff"
    assert decoded.resource == {"service.name": "api"}
    assert decoded.attributes == {"kfm.job.started_at_unix": 1_764_496_800, "delta": -7, "ok": True}
