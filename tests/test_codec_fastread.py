"""The generated readers against fastavro: the same record for every valid payload, and
never a record where fastavro refuses the bytes (the codec then lets fastavro decide)."""

from __future__ import annotations

import io
import json
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from watchkeeper.codec import HEADER_SIZE, Codec, EventError
from watchkeeper.codec._fastread import MAX_SHAPES, DoubleMaps, compile_reader

CODEC = Codec()
SCHEMAS = Path(__file__).resolve().parent.parent / "watchkeeper" / "schemas"
NAMES = CODEC.registry.names()


def random_value(rng: random.Random, avro: Any, named: dict[str, Any]) -> Any:
    if isinstance(avro, list):
        return random_value(rng, rng.choice(avro), named)
    if isinstance(avro, str):
        if avro in named:
            return random_value(rng, named[avro], named)
        kind = avro
    else:
        kind = avro["type"]
        if kind in ("record", "enum", "fixed"):
            named[avro["name"]] = avro
    if kind == "null":
        return None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 63, 64, -65, 2**31 - 1, -(2**31), rng.randint(-999, 999)])
    if kind == "long":
        return rng.choice([0, -1, 63, -64, 64, 2**63 - 1, -(2**63), rng.randint(-(10**15), 10**15)])
    if kind in ("double", "float"):
        value = rng.choice(
            [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e308, rng.gauss(0, 1e6)]
        )
        return struct.unpack("<f", struct.pack("<f", value))[0] if kind == "float" else value
    if kind == "string":
        return "".join(
            rng.choice("ab€√z0 _\u00e9\U0001f600") for _ in range(rng.choice([0, 1, 5, 70]))
        )
    if kind == "bytes":
        return rng.randbytes(rng.choice([0, 3, 90]))
    if kind == "fixed":
        return rng.randbytes(avro["size"])
    if kind == "enum":
        return rng.choice(avro["symbols"])
    if kind == "map":
        size = rng.choice([0, 1, 3, 20, 70])
        return {
            random_value(rng, "string", named) + str(i): random_value(rng, avro["values"], named)
            for i in range(size)
        }
    if kind == "array":
        return [random_value(rng, avro["items"], named) for _ in range(rng.choice([0, 1, 4]))]
    if kind == "record":
        return {f["name"]: random_value(rng, f["type"], named) for f in avro["fields"]}
    raise AssertionError(f"no generator for {kind}")


def named_types(avro: Any, named: dict[str, Any]) -> dict[str, Any]:
    """Every named type of a schema, whichever branch a random record takes."""
    if isinstance(avro, list):
        for branch in avro:
            named_types(branch, named)
    elif isinstance(avro, dict):
        if avro["type"] in ("record", "enum", "fixed"):
            named[avro["name"]] = avro
        for field in avro.get("fields", ()):
            named_types(field["type"], named)
        for inner in ("values", "items"):
            if inner in avro:
                named_types(avro[inner], named)
    return named


def encode(raw: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(raw), record)
    return out.getvalue()


def outcome(read, data: bytes) -> str | None:
    """The record's repr (exact, NaN and -0.0 included), or None when refused."""
    try:
        record, end = read(data, 0)
    except Exception:
        return None
    return repr(record) if end == len(data) else None


def fastavro_outcome(raw_parsed: dict[str, Any], data: bytes) -> str | None:
    from fastavro import schemaless_reader

    buffer = io.BytesIO(data)
    try:
        record = schemaless_reader(buffer, raw_parsed, None)
    except Exception:
        return None
    return repr(record) if buffer.tell() == len(data) else None


@pytest.mark.parametrize("name", NAMES)
def test_every_schema_has_a_generated_reader_used_by_the_codec(name: str) -> None:
    latest = CODEC.registry.latest(name)
    reader = CODEC._readers[latest.fingerprint]
    assert reader.fast is not None, f"{name}: fastavro reads it alone"


@pytest.mark.parametrize("name", NAMES)
def test_golden_examples_read_the_same_as_with_fastavro(name: str) -> None:
    latest = CODEC.registry.latest(name)
    read = compile_reader(latest.raw)
    examples = sorted((SCHEMAS / latest.type_dir / "examples").glob("*.json"))
    assert examples, f"{name} has no golden examples"
    for example in examples:
        record = json.loads(example.read_text())
        data = CODEC.encode(name, record)[HEADER_SIZE:]
        assert outcome(read, data) == fastavro_outcome(latest.parsed, data) is not None


@pytest.mark.parametrize("name", NAMES)
def test_random_records_and_corrupted_bytes_agree_with_fastavro(name: str) -> None:
    rng = random.Random(name)
    latest = CODEC.registry.latest(name)
    read = compile_reader(latest.raw)
    accepted = refused = 0
    for _ in range(150):
        record = random_value(rng, latest.raw, named_types(latest.raw, {}))
        data = encode(latest.raw, record)
        ours = outcome(read, data)
        assert ours is not None and ours == fastavro_outcome(latest.parsed, data)
        for _ in range(12):
            mutated = bytearray(data)
            how = rng.random()
            if how < 0.4 and mutated:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            elif how < 0.7:
                del mutated[rng.randrange(len(mutated) + 1) :]
            elif how < 0.85:
                mutated += rng.randbytes(rng.randint(1, 4))
            else:
                at = rng.randrange(len(mutated) + 1)
                mutated[at:at] = rng.randbytes(rng.randint(1, 3))
            bad = bytes(mutated)
            ours = outcome(read, bad)
            theirs = fastavro_outcome(latest.parsed, bad)
            if ours is not None:
                # Whatever the fast path accepts, fastavro reads to the same record.
                assert ours == theirs, f"{name}: fast path accepted bytes fastavro reads otherwise"
                accepted += 1
            else:
                refused += 1
    # Both branches ran: corruptions the fast path refused, and ones it read (and matched).
    assert refused > 0 and accepted > 0


def _map_schema() -> dict[str, Any]:
    return {
        "type": "record",
        "name": "M",
        "fields": [{"name": "x", "type": {"type": "map", "values": "double"}}],
    }


def test_a_repeated_key_layout_is_read_from_its_shape_and_a_different_one_is_not() -> None:
    read = compile_reader(_map_schema())
    maps = next(v for v in read.__globals__.values() if isinstance(v, DoubleMaps))
    first = encode(_map_schema(), {"x": {"f00": 1.0, "f01": 2.0}})
    again = encode(_map_schema(), {"x": {"f00": 3.5, "f01": -4.0}})
    # Same head (count and first key), another second key: must not be read as the first.
    other = encode(_map_schema(), {"x": {"f00": 3.5, "f02": -4.0}})
    assert read(first, 0)[0] == {"x": {"f00": 1.0, "f01": 2.0}} and maps.hits == 0
    assert read(again, 0)[0] == {"x": {"f00": 3.5, "f01": -4.0}} and maps.hits == 1
    assert read(other, 0)[0] == {"x": {"f00": 3.5, "f02": -4.0}}
    assert read(other, 0)[0] == {"x": {"f00": 3.5, "f02": -4.0}} and maps.hits == 2
    assert read(first, 0)[0] == {"x": {"f00": 1.0, "f01": 2.0}} and maps.hits == 3


def test_the_shape_cache_stays_bounded_under_ever_new_keys() -> None:
    read = compile_reader(_map_schema())
    maps = next(v for v in read.__globals__.values() if isinstance(v, DoubleMaps))
    rng = random.Random(5)
    for i in range(MAX_SHAPES * 4):
        keys = {f"k{i}-{rng.random()}": float(i), "b": 2.0}
        assert read(encode(_map_schema(), {"x": keys}), 0)[0] == {"x": keys}
    assert sum(len(v) for v in maps.shapes.values()) <= MAX_SHAPES * 4
    assert len(maps.shapes) <= MAX_SHAPES


def test_a_map_in_blocks_with_byte_counts_is_left_to_fastavro_and_decoded_right() -> None:
    # Valid Avro that fastavro's writer never produces: blocks of -count then byte size.
    def text(s: str) -> bytes:
        return bytes([len(s) * 2]) + s.encode()

    block = text("a") + struct.pack("<d", 1.0)
    body = bytes([1, len(block) * 2]) + block  # -1 (zig-zag 1): one entry, then its size
    body += bytes([2]) + text("b") + struct.pack("<d", 2.0) + bytes([0])
    record = {
        "event_id": "e",
        "event_time_ms": 1,
        "model": "m",
        "version": "1",
        "latency_ms": 1.0,
        "num_features": {"z": 9.0},
    }
    data = CODEC.encode("PredictionEvent", record)
    # Splice the two-block map in place of num_features {"z": 9.0}.
    single = bytes([2]) + text("z") + struct.pack("<d", 9.0) + bytes([0])
    assert data.count(single) == 1
    spliced = data.replace(single, body)
    decoded = CODEC.decode_as("PredictionEvent", spliced)
    assert decoded["num_features"] == {"a": 1.0, "b": 2.0}


def test_the_codec_reports_the_same_errors_through_the_fast_path() -> None:
    record = {"event_id": "e", "event_time_ms": 1, "model": "m", "version": "1", "latency_ms": 1.0}
    data = CODEC.encode("PredictionEvent", record)
    with pytest.raises(EventError) as truncated:
        CODEC.decode_as("PredictionEvent", data[:-2])
    assert truncated.value.kind == "truncated"
    with pytest.raises(EventError) as extra:
        CODEC.decode_as("PredictionEvent", data + b"\x00")
    assert extra.value.kind == "corrupt" and "left after the record" in str(extra.value)


def test_an_empty_map_in_a_long_varint_ends_where_fastavro_says() -> None:
    # 0x80 0x00 is zero written in two bytes: an empty map, with no end marker after it.
    schema = {
        "type": "record",
        "name": "N",
        "fields": [
            {"name": "x", "type": {"type": "map", "values": "double"}},
            {"name": "n", "type": "long"},
        ],
    }
    data = bytes([0x80, 0x00, 0x02])
    assert outcome(compile_reader(schema), data) == fastavro_outcome(parse_schema(schema), data)
    assert outcome(compile_reader(schema), data) == repr({"x": {}, "n": 1})


def test_a_hostile_item_count_gives_up_at_once() -> None:
    # An array of nulls takes no bytes per item: a count of 2**62 must not spin the loop.
    schema = {
        "type": "record",
        "name": "H",
        "fields": [{"name": "a", "type": {"type": "array", "items": "null"}}],
    }
    huge = bytes([0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) + b"\x00"
    with pytest.raises(Exception, match="more items than bytes"):
        compile_reader(schema)(huge, 0)
