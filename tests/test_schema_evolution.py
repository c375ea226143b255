"""Schema evolution: each version reads the data of every version before it, and the check
fails when a change would break old data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from watchkeeper.cli import main as cli_main
from watchkeeper.codec import Codec, SchemaRegistry, incompatibilities
from watchkeeper.codec.compatibility import check, lock

REGISTRY = SchemaRegistry()


@pytest.mark.parametrize("name", REGISTRY.names())
def test_newest_version_reads_data_of_every_older_version(name: str) -> None:
    versions = REGISTRY.versions(name)
    newest = versions[-1]
    codec = Codec(REGISTRY)
    for older in versions:
        assert incompatibilities(writer=older.raw, reader=newest.raw) == []
        # Write with the old version's own schema, read through the codec's dispatch.
        import io

        from fastavro import schemaless_writer

        for example in REGISTRY.examples(name).values():
            old_fields = {f["name"] for f in older.raw["fields"]}
            record = {k: v for k, v in example.items() if k in old_fields}
            buffer = io.BytesIO()
            buffer.write(b"\xc3\x01" + older.fingerprint)
            schemaless_writer(buffer, older.parsed, record)
            decoded = codec.decode(buffer.getvalue())
            assert decoded.version == older.version
            assert decoded.schema == name


def test_the_repository_schemas_pass_the_check() -> None:
    assert check() == []


# -- a scratch copy of the schemas to evolve -----------------------------------------------


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(REGISTRY.root, root)
    return root


def add_version(root: Path, type_dir: str, change) -> Path:
    versions = sorted(root.joinpath(type_dir).glob("v*.avsc"))
    schema = json.loads(versions[-1].read_text())
    change(schema)
    path = root / type_dir / f"v{len(versions) + 1}.avsc"
    path.write_text(json.dumps(schema, indent=2))
    return path


def field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_adding_a_field_with_default_is_compatible_and_old_data_gets_the_default(
    scratch: Path,
) -> None:
    old_codec = Codec(SchemaRegistry(scratch))
    example = old_codec.registry.examples("PredictionEvent")["fraud_ok"]
    old_bytes = old_codec.encode("PredictionEvent", example)

    add_version(
        scratch,
        "prediction_event",
        lambda s: s["fields"].append({"name": "gpu_ms", "type": "double", "default": 0.0}),
    )
    registry = SchemaRegistry(scratch)
    assert check(registry, require_lock=False) == []
    lock(registry)
    assert check(registry) == []

    new_codec = Codec(registry)
    decoded = new_codec.decode(old_bytes)
    assert decoded.version == 1
    assert decoded.record["gpu_ms"] == 0.0
    assert decoded.record["model"] == example["model"]
    # New writers use v2; their bytes carry v2's fingerprint.
    new_bytes = new_codec.encode("PredictionEvent", {**example, "gpu_ms": 3.5})
    assert new_bytes[2:10] == registry.latest("PredictionEvent").fingerprint
    assert new_codec.decode(new_bytes).version == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda s: s["fields"].append({"name": "gpu_ms", "type": "double"}),
            "PredictionEvent.gpu_ms: new field has no default",
        ),
        (
            lambda s: field(s, "latency_ms").update(type="string"),
            "PredictionEvent.latency_ms: type changed from double to string",
        ),
        (
            lambda s: field(s, "event_time_ms").update(type="int"),
            "PredictionEvent.event_time_ms: type changed from long to int",
        ),
        (
            lambda s: field(s, "region").update(type="string", default=""),
            "PredictionEvent.region: type changed from null to string",
        ),
        (
            lambda s: (
                field(s, "status")["type"].update(symbols=["OK", "ERROR"], default=None)
                or field(s, "status")["type"].pop("default")
            ),
            "PredictionEvent.status: enum symbols ['TIMEOUT', 'REJECTED'] removed",
        ),
        (
            lambda s: field(s, "num_features")["type"].update(values="string"),
            "PredictionEvent.num_features{}: type changed from double to string",
        ),
        (
            lambda s: field(s, "llm")["type"][1]["fields"].append(
                {"name": "reasoning_tokens", "type": "long"}
            ),
            "PredictionEvent.llm.reasoning_tokens: new field has no default",
        ),
    ],
    ids=[
        "field-without-default",
        "type-change",
        "narrowing",
        "optional-to-required",
        "enum-symbol-removed",
        "map-values",
        "nested-record",
    ],
)
def test_breaking_changes_fail_the_check(scratch: Path, change, reason: str) -> None:
    add_version(scratch, "prediction_event", change)
    problems = check(SchemaRegistry(scratch), require_lock=False)
    breaks = [p for p in problems if "PredictionEvent v2 cannot read PredictionEvent v1 data" in p]
    assert any(reason in p for p in breaks), problems


def test_widening_int_to_long_and_renaming_with_alias_are_compatible(scratch: Path) -> None:
    def change(s: dict) -> None:
        field(s, "replicas")["type"] = ["null", "long"]
        host = field(s, "host")
        host["name"], host["aliases"] = "hostname", ["host"]

    add_version(scratch, "telemetry_event", change)
    problems = check(SchemaRegistry(scratch), require_lock=False)
    assert [p for p in problems if "cannot read" in p] == []
    # The golden examples must follow the newest version: they still say "host".
    assert any("TelemetryEvent.hostname: required field is missing" in p for p in problems)


def test_editing_a_published_version_in_place_fails(scratch: Path) -> None:
    path = scratch / "feedback_event" / "v1.avsc"
    schema = json.loads(path.read_text())
    schema["fields"].append({"name": "note", "type": "string", "default": ""})
    path.write_text(json.dumps(schema))
    problems = check(SchemaRegistry(scratch))
    assert any("feedback_event/v1 was edited after it was published" in p for p in problems)


def test_an_unlocked_new_version_fails_until_locked(scratch: Path) -> None:
    add_version(
        scratch,
        "alert",
        lambda s: s["fields"].append({"name": "silenced", "type": "boolean", "default": False}),
    )
    registry = SchemaRegistry(scratch)
    assert any("alert/v2 is not in fingerprints.lock" in p for p in check(registry))
    lock(registry)
    assert check(SchemaRegistry(scratch)) == []


def test_deleting_a_published_version_fails(scratch: Path) -> None:
    add_version(
        scratch,
        "alert",
        lambda s: s["fields"].append({"name": "silenced", "type": "boolean", "default": False}),
    )
    lock(SchemaRegistry(scratch))
    (scratch / "alert" / "v1.avsc").unlink()
    problems = check(SchemaRegistry(scratch))
    assert any("alert/v1 is in fingerprints.lock but its file is gone" in p for p in problems)


def test_cli_check_exit_codes(scratch: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WK_SCHEMA_DIR", str(scratch))
    assert cli_main(["schemas", "check"]) == 0
    add_version(
        scratch,
        "prediction_event",
        lambda s: s["fields"].append({"name": "gpu_ms", "type": "double"}),
    )
    assert cli_main(["schemas", "check"]) == 1
    assert "new field has no default" in capsys.readouterr().err
    assert cli_main(["schemas", "lock"]) == 1


def test_a_file_that_is_not_avro_is_named(scratch: Path, monkeypatch, capsys) -> None:
    (scratch / "alert" / "v2.avsc").write_text('{"type": "record", "name": "Alert", "fields": 3}')
    monkeypatch.setenv("WK_SCHEMA_DIR", str(scratch))
    assert cli_main(["schemas", "check"]) == 1
    assert "alert/v2.avsc: not a valid Avro schema" in capsys.readouterr().err
