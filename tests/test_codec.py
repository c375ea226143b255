"""The codec: golden round trips and wire bytes, fingerprints, and every kind of bad input."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint

from watchkeeper.codec import HEADER_SIZE, KINDS, MAGIC, Codec, EventError, SchemaRegistry

CODEC = Codec()
REGISTRY = CODEC.registry
GOLDEN = [
    (name, stem, example)
    for name in REGISTRY.names()
    for stem, example in REGISTRY.examples(name).items()
]


def test_every_contract_type_is_registered_with_examples() -> None:
    # The event types PRODUCT.md names; services add their own outputs beside them.
    assert {
        "PredictionEvent",
        "TelemetryEvent",
        "FeedbackEvent",
        "Alert",
        "RetrainRequest",
        "WindowAggregate",
    } <= set(REGISTRY.names())
    for name in REGISTRY.names():
        assert REGISTRY.examples(name), f"{name} has no golden example"


@pytest.mark.parametrize(
    ("name", "stem", "example"), GOLDEN, ids=[f"{n}-{s}" for n, s, _ in GOLDEN]
)
def test_golden_round_trip(name: str, stem: str, example: dict) -> None:
    data = CODEC.encode(name, example)
    decoded = CODEC.decode(data)
    assert decoded.schema == name
    assert decoded.version == REGISTRY.latest(name).version
    for key, value in example.items():
        assert decoded.record[key] == value, key
    assert CODEC.decode_as(name, data) == decoded.record


@pytest.mark.parametrize(
    ("name", "stem", "example"), GOLDEN, ids=[f"{n}-{s}" for n, s, _ in GOLDEN]
)
def test_golden_wire_bytes(name: str, stem: str, example: dict) -> None:
    """The bytes are a test vector for consumers in other languages: they must not move."""
    version = REGISTRY.latest(name)
    vector = version.path.parent / "examples" / f"{stem}.hex"
    assert vector.exists(), f"missing {vector}; write it with tests/write_vectors.py"
    assert CODEC.encode(name, example).hex() == vector.read_text().strip()


def test_header_is_magic_plus_little_endian_crc64_of_canonical_form() -> None:
    for version in REGISTRY:
        data = CODEC.encode(version.name, next(iter(REGISTRY.examples(version.name).values())))
        assert data[:2] == MAGIC == b"\xc3\x01"
        # The header is fastavro's CRC-64-AVRO, little-endian; fingerprints.lock and the
        # .hex vectors pin the same bytes independently of how they are computed.
        assert data[2:HEADER_SIZE].hex() == fastavro_fingerprint(version.canonical, "CRC-64-AVRO")
        # The same value read as a little-endian 64-bit integer is what Java's
        # SchemaNormalization.parsingFingerprint64 returns.
        (as_long,) = struct.unpack("<q", data[2:HEADER_SIZE])
        assert as_long != 0


def test_fingerprints_match_the_lock_file() -> None:
    assert REGISTRY.read_lock() == REGISTRY.lock_entries()


# -- bad input ---------------------------------------------------------------------------

PREDICTION = REGISTRY.examples("PredictionEvent")["fraud_ok"]
GOOD = CODEC.encode("PredictionEvent", PREDICTION)


def kind_of(data: bytes, expect: str | None = "PredictionEvent") -> str:
    with pytest.raises(EventError) as info:
        if expect:
            CODEC.decode_as(expect, data)
        else:
            CODEC.decode(data)
    assert info.value.kind in KINDS
    return info.value.kind


@pytest.mark.parametrize("data", [b"", b"{}", b"\x00" * 40, b'{"model": "fraud"}', b"\xc3"])
def test_not_single_object(data: bytes) -> None:
    assert kind_of(data) == "not_single_object"


def test_header_cut_short() -> None:
    with pytest.raises(EventError, match="shorter than the 10-byte header") as info:
        CODEC.decode(GOOD[:7])
    assert info.value.kind == "not_single_object"


def test_unknown_fingerprint_names_it() -> None:
    data = MAGIC + b"\x01\x02\x03\x04\x05\x06\x07\x08" + GOOD[HEADER_SIZE:]
    with pytest.raises(EventError, match="0102030405060708") as info:
        CODEC.decode(data)
    assert info.value.kind == "unknown_fingerprint"


def test_every_truncation_is_reported_as_truncated() -> None:
    for cut in range(HEADER_SIZE, len(GOOD)):
        assert kind_of(GOOD[:cut]) in ("truncated", "corrupt"), cut
    # Cutting inside the body's last string is a plain truncation.
    assert kind_of(GOOD[:-3]) == "truncated"


def test_trailing_bytes_are_corrupt() -> None:
    with pytest.raises(EventError, match="bytes left after the record") as info:
        CODEC.decode(GOOD + b"\x00\x00")
    assert info.value.kind == "corrupt"


def test_invalid_utf8_is_corrupt() -> None:
    body = bytearray(GOOD)
    start = body.index(b"fraud")
    body[start] = 0xFF
    assert kind_of(bytes(body)) == "corrupt"


def test_event_of_another_type_is_unexpected() -> None:
    alert = CODEC.encode("Alert", REGISTRY.examples("Alert")["latency_firing"])
    with pytest.raises(EventError, match="expected PredictionEvent, got a Alert v1") as info:
        CODEC.decode_as("PredictionEvent", alert)
    assert info.value.kind == "unexpected_type"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("latency_ms", -5.0, "PredictionEvent.latency_ms: must be >= 0"),
        ("latency_ms", float("nan"), "PredictionEvent.latency_ms: must be a finite number"),
        ("latency_ms", float("inf"), "PredictionEvent.latency_ms: must be a finite number"),
        ("model", "  ", "PredictionEvent.model: must not be empty"),
        ("event_id", "", "PredictionEvent.event_id: must not be empty"),
        (
            "llm",
            {"provider_model": "m", "tokens_in": -1, "tokens_out": 0},
            "PredictionEvent.llm.tokens_in: must be >= 0",
        ),
    ],
)
def test_well_typed_but_invalid_events_are_rejected_on_decode(field, value, message) -> None:
    # A foreign producer (no SDK validation) can write these; the decoder must catch them.
    data = CODEC.encode("PredictionEvent", {**PREDICTION, field: value}, validate=False)
    with pytest.raises(EventError) as info:
        CODEC.decode(data)
    assert info.value.kind == "invalid"
    assert message in str(info.value)


def test_random_mutations_only_ever_raise_event_error() -> None:
    """Hostile bytes: flips, cuts, splices and huge varints never escape as another error."""
    rng = random.Random(20261127)
    seeds = [CODEC.encode(n, e) for n, _, e in GOLDEN]
    outcomes = {"decoded": 0, "rejected": 0}
    for _ in range(5000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            position = rng.randrange(HEADER_SIZE, len(data))
            if op < 0.5:
                data[position] = rng.randrange(256)
            elif op < 0.7:
                del data[position:]
                if len(data) <= HEADER_SIZE:
                    data += b"\x01"
            elif op < 0.85:
                data[position:position] = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
            else:
                data[position:position] = bytes(rng.randrange(256) for _ in range(8))
        try:
            decoded = CODEC.decode(bytes(data))
        except EventError:
            outcomes["rejected"] += 1
        else:
            outcomes["decoded"] += 1
            assert isinstance(decoded.record, dict)
    assert outcomes["rejected"] > 1000, outcomes


# -- encoding errors -----------------------------------------------------------------------


def test_encode_unknown_schema() -> None:
    with pytest.raises(EventError, match="no schema named 'Nope'"):
        CODEC.encode("Nope", {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"latency_ms": "12"}, "PredictionEvent.latency_ms: expected double, got str '12'"),
        ({"latency_ms": True}, "PredictionEvent.latency_ms: expected double, got bool True"),
        ({"event_time_ms": 1.5}, "PredictionEvent.event_time_ms: expected long, got float 1.5"),
        ({"status": "FINE"}, "PredictionEvent.status: expected one of"),
        (
            {"num_features": {"amount": "12"}},
            "PredictionEvent.num_features['amount']: expected double, got str '12'",
        ),
        ({"num_features": {1: 2.0}}, "map keys must be strings"),
        ({"segments": ["a"]}, "PredictionEvent.segments: expected map of string, got list"),
        (
            {"llm": {"provider_model": "m", "tokens_in": 1}},
            "PredictionEvent.llm.tokens_out: required field is missing",
        ),
        ({"amount": 3}, "PredictionEvent.amount: unknown field (a typo?)"),
        ({"region": 7}, "PredictionEvent.region: expected string, got int 7"),
    ],
)
def test_encode_names_the_wrong_field(change: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        CODEC.encode("PredictionEvent", {**PREDICTION, **change})
    assert message in str(info.value)


def test_encode_names_a_missing_required_field() -> None:
    record = dict(PREDICTION)
    del record["model"]
    with pytest.raises(ValueError, match=r"PredictionEvent\.model: required field is missing"):
        CODEC.encode("PredictionEvent", record)


def test_registry_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="WK_SCHEMA_DIR"):
        SchemaRegistry(tmp_path / "nowhere")
