"""Decoders for what Alloy sends to the loopback sinks: snappy blocks and a few protobuf messages.

Small hand decoders instead of python-snappy and protobuf pins. Each follows the published format:

- snappy's block format (``format_description.txt`` of google/snappy): a varint length, then
  literals and copies with 1-, 2- or 4-byte offsets;
- protobuf's wire format (varints, fixed 64/32-bit, length-delimited fields);
- the messages: Prometheus remote write 1.0 ``prometheus.WriteRequest`` (prompb/remote.proto,
  types.proto), Loki's ``logproto.PushRequest`` (pkg/push/push.proto) and OTLP's
  ``ExportTraceServiceRequest`` (opentelemetry-proto, trace/v1 and common/v1).
tests/test_alloy_wire.py checks them against bytes written by hand from those specifications.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

Fields = dict[int, list[Any]]


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def snappy_block(data: bytes) -> bytes:
    """Uncompress one snappy block (what remote write and Loki push bodies are)."""
    length, at = _varint(data, 0)
    out = bytearray()
    while at < len(data):
        tag = data[at]
        at += 1
        kind = tag & 0x03
        if kind == 0:  # literal; lengths above 60 follow in 1-4 little-endian bytes
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[at : at + extra], "little")
                at += extra
            size += 1
            out += data[at : at + size]
            at += size
            continue
        if kind == 1:
            size, offset = ((tag >> 2) & 0x07) + 4, ((tag >> 5) << 8) | data[at]
            at += 1
        else:
            width = 2 if kind == 2 else 4
            size, offset = (tag >> 2) + 1, int.from_bytes(data[at : at + width], "little")
            at += width
        if offset == 0 or offset > len(out):
            raise ValueError("snappy copy before the start of the output")
        for _ in range(size):  # copies may overlap their own output
            out.append(out[-offset])
    if len(out) != length:
        raise ValueError(f"snappy block says {length} bytes, got {len(out)}")
    return bytes(out)


def fields(data: bytes) -> Fields:
    """One protobuf message as field number -> raw values (ints, or bytes for length-delimited)."""
    found: Fields = {}
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 0x07
        value: Any
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1:
            value, at = data[at : at + 8], at + 8
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at : at + size], at + size
        elif wire == 5:
            value, at = data[at : at + 4], at + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        found.setdefault(number, []).append(value)
    return found


def _text(values: list[Any]) -> str:
    return bytes(values[0]).decode() if values else ""


# --- Prometheus remote write 1.0 ----------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    samples: list[tuple[int, float]]  # (timestamp ms, value)


def write_request(body: bytes) -> list[Series]:
    """A snappy-compressed ``prometheus.WriteRequest``: field 1 TimeSeries{1 Label, 2 Sample}."""
    series = []
    for raw in fields(snappy_block(body)).get(1, []):
        ts = fields(raw)
        labels = {_text(fields(lab).get(1, [])): _text(fields(lab).get(2, [])) for lab in ts.get(1, [])}
        samples = []
        for raw_sample in ts.get(2, []):
            sample = fields(raw_sample)
            value = struct.unpack("<d", sample[1][0])[0] if 1 in sample else 0.0
            samples.append((sample.get(2, [0])[0], value))
        series.append(Series(labels, samples))
    return series


# --- Loki push ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    labels: str  # the stream's label set as Loki writes it: {a="1", b="2"}
    line: str
    timestamp_ns: int
    metadata: dict[str, str] = field(default_factory=dict)  # structured metadata


def push_request(body: bytes) -> list[Entry]:
    """A snappy-compressed ``logproto.PushRequest``: field 1 Stream{1 labels, 2 Entry}."""
    entries = []
    for raw in fields(snappy_block(body)).get(1, []):
        stream = fields(raw)
        for raw_entry in stream.get(2, []):
            entry = fields(raw_entry)
            stamp = fields(entry[1][0]) if 1 in entry else {}
            nanos = stamp.get(1, [0])[0] * 1_000_000_000 + stamp.get(2, [0])[0]
            metadata = {
                _text(fields(pair).get(1, [])): _text(fields(pair).get(2, [])) for pair in entry.get(3, [])
            }
            entries.append(Entry(_text(stream.get(1, [])), _text(entry.get(2, [])), nanos, metadata))
    return entries


# --- OTLP traces ----------------------------------------------------------------------------------


def any_value(raw: bytes) -> Any:
    """OTLP AnyValue: 1 string, 2 bool, 3 int, 4 double (others are not sent here)."""
    value = fields(raw)
    if 1 in value:
        return _text(value[1])
    if 2 in value:
        return bool(value[2][0])
    if 3 in value:
        number: int = value[3][0]
        return number - (1 << 64) if number >= 1 << 63 else number
    if 4 in value:
        return struct.unpack("<d", value[4][0])[0]
    return None


def attributes(raws: list[Any]) -> dict[str, Any]:
    """Repeated OTLP KeyValue{1 key, 2 AnyValue} as a dict."""
    found = {}
    for raw in raws:
        pair = fields(raw)
        found[_text(pair.get(1, []))] = any_value(pair[2][0]) if 2 in pair else None
    return found


@dataclass(frozen=True)
class Span:
    name: str
    trace_id: str  # hex
    resource: dict[str, Any]
    attributes: dict[str, Any]


def trace_request(body: bytes) -> list[Span]:
    """``ExportTraceServiceRequest``: 1 ResourceSpans{1 Resource{1 attrs}, 2 ScopeSpans{2 Span}}."""
    spans = []
    for raw in fields(body).get(1, []):
        resource_spans = fields(raw)
        resource = attributes(fields(resource_spans[1][0]).get(1, [])) if 1 in resource_spans else {}
        for scope in resource_spans.get(2, []):
            for raw_span in fields(scope).get(2, []):
                span = fields(raw_span)
                spans.append(
                    Span(
                        _text(span.get(5, [])),
                        bytes(span.get(1, [b""])[0]).hex(),
                        resource,
                        attributes(span.get(9, [])),
                    )
                )
    return spans
