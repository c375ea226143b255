"""watchkeeper ingest without Kafka: readers, the mapping and transformation files, and
the command line refusing bad input (exit 2, ``file:line: reason``) before any broker is
asked anything (KAFKA_BOOTSTRAP_SERVERS points nowhere in these tests)."""

from __future__ import annotations

import math

import pytest

from tests.ingest_support import MAPPING, TRANSFORM, ingest, rows, write_csv, write_parquet
from watchkeeper.ingest import mapping, readers, transform
from watchkeeper.ingest.errors import InputError, RowError
from watchkeeper.yamlconf import ConfigFileError, load_text

NOWHERE = "127.0.0.1:1"  # nothing listens: a test that reached Kafka would fail


def _mapping(text: str, target: str = "predictions"):
    return mapping.parse(load_text(text, "m.yaml"), target)


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        (
            MAPPING + "  colour: c\n",
            "predictions",
            "m.yaml:10: PredictionEvent has no field 'colour'",
        ),
        (
            MAPPING.replace("  latency_ms: latency\n", ""),
            "predictions",
            "PredictionEvent.latency_ms is required",
        ),
        (
            MAPPING + "  cache_hit: {const: perhaps}\n",
            "predictions",
            "m.yaml:10: cache_hit: const cannot read 'perhaps' as true or false",
        ),
        (MAPPING + "  score: {column: s, type: string}\n", "predictions", "duplicate key 'score'"),
        (
            MAPPING + "  region: {column: r, type: string}\n",
            "predictions",
            "m.yaml:10: region: type applies to features.<name> only",
        ),
        (MAPPING + "  status: {const: MAYBE}\n", "predictions", "is not one of OK, ERROR"),
        (MAPPING + "  llm.colour: c\n", "predictions", "m.yaml:10: llm.colour: llm has the fields"),
        (
            MAPPING + "  latency_ms2: {column: a, const: 1}\n",
            "predictions",
            "say either column or const",
        ),
        (MAPPING + "  region: {column: r, defualt: x}\n", "predictions", "unknown key 'defualt'"),
        (
            "fields:\n  event_time_ms: ts\n  model: {const: m}\n  label: l\n",
            "feedback",
            "FeedbackEvent.event_id is required: map a column or a const (feedback names",
        ),
        ("fields: [a, b]\n", "predictions", "fields: map event fields to columns"),
        ("fields:\n  model: [\n", "predictions", "not valid YAML"),
    ],
)
def test_a_bad_mapping_says_file_and_line(text, target, expected) -> None:
    with pytest.raises(ConfigFileError) as caught:
        _mapping(text, target)
    assert expected in str(caught.value)


def test_the_mapping_casts_nests_and_derives_ids() -> None:
    m = _mapping(
        MAPPING + "  llm.provider_model: pm\n  llm.tokens_in: tin\n  llm.tokens_out: tout\n"
    )
    row = {
        "ts": "2026-12-01T10:00:00+01:00",
        "version": None,
        "latency": 3,
        "score": "0.5",
        "amount": "nan",
        "channel": "web",
        "country": "de",
        "pm": "gpt",
        "tin": "10",
        "tout": 2.0,
    }
    event = m.event(row, "sha256:ab", 9)
    assert event["event_time_ms"] == 1_796_115_600_000
    assert event["version"] == "1"  # the default
    assert math.isnan(event["num_features"]["amount"])  # a feature may be NaN: "no value"
    assert event["llm"] == {
        "provider_model": "gpt",
        "tokens_in": 10,
        "tokens_out": 2,
        "tokens_cached": 0,
    }
    assert event["event_id"] == m.event(dict(row), "sha256:ab", 9)["event_id"]
    assert event["event_id"] != m.event(dict(row), "sha256:ab", 10)["event_id"]
    for field, value, reason in (
        ("latency", "nan", "latency_ms: nan is not a finite number"),
        ("latency", True, "latency_ms: cannot read True as a number"),
        ("score", {"x": 1}, "score: cannot read {'x': 1} as a number"),
        ("ts", "yesterday", "event_time_ms: cannot read 'yesterday' as an ISO 8601 time"),
    ):
        with pytest.raises(RowError) as caught:
            m.event({**row, field: value}, "sha256:ab", 9)
        assert str(caught.value) == reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps:\n  - reshape: {a: b}\n", "t.yaml:2: unknown step 'reshape'"),
        ("steps:\n  - derive: {x: 'a +'}\n", "t.yaml:2: x: not an expression"),
        ("steps:\n  - cast: {a: decimal}\n", "t.yaml:2: cast: unknown type 'decimal'"),
        ("steps:\n  - hook: no.such.module:f\n", "t.yaml:2: hook: cannot import 'no.such.module'"),
        ("steps:\n  - hook: tests.ingest_hooks:nothing\n", "has no function 'nothing'"),
        ("steps:\n  - filter: ''\n", "t.yaml:2: filter: an expression must be non-empty text"),
        ("steps:\n  - drop: a\n    fill: {b: 1}\n", "say exactly one of"),
        ("steps: []\n", "steps: a list of steps"),
        (
            "source: s\nsteps:\n  - name: a\n    drop: x\n  - name: a\n    drop: y\n",
            "two steps are named 'a'",
        ),
    ],
)
def test_a_bad_transformation_says_file_and_line(text, expected) -> None:
    with pytest.raises(ConfigFileError) as caught:
        transform.parse(load_text(text, "t.yaml"), "src")
    assert expected in str(caught.value)


def test_a_step_reading_a_column_nobody_has_is_refused() -> None:
    t = transform.parse(load_text(TRANSFORM + "  - filter: 'amount_eur > 0'\n", "t.yaml"), "s")
    with pytest.raises(ConfigFileError) as caught:
        t.check_columns({"lat_us", "amount"}, exact=True)
    assert str(caught.value).startswith("t.yaml:7: 4-filter: no column 'amount_eur' here")


def test_row_errors_of_steps_and_hooks(monkeypatch) -> None:
    monkeypatch.setenv("WK_TEST_RAISE_AT_ID", "7")
    t = transform.parse(
        load_text(
            "steps:\n  - cast: {n: int}\n  - derive: {r: '10 / n'}\n"
            "  - hook: tests.ingest_hooks:hang_or_pass\n",
            "t.yaml",
        ),
        "s",
    )
    assert t.apply({"id": "1", "n": "5"}) == (None, {"id": "1", "n": 5, "r": 2.0})
    for row, kind, text in (
        ({"id": "1", "n": "five"}, "cast", "1-cast: n: cannot read 'five' as an integer"),
        ({"id": "1", "n": "0"}, "expression", "ZeroDivisionError"),
        ({"id": "7", "n": "1"}, "hook", "3-hook: RuntimeError: the hook refuses this row"),
    ):
        with pytest.raises(RowError) as caught:
            t.apply(row)
        assert caught.value.kind == kind and text in str(caught.value)


def test_readers_refuse_what_a_file_is_not(tmp_path) -> None:
    cases = {
        "empty.csv": (b"", "empty.csv: the file is empty (0 bytes)"),
        "latin.csv": ("id,name\n1,ok\n2,Mü\n".encode("latin-1"), "latin.csv:3: not utf-8-sig"),
        "dup.csv": (b"id,id\n1,2\n", "dup.csv:1: the header has a duplicate ('id')"),
        "lines.jsonl": (b'{"a": 1}\n\n[1, 2]\n', "lines.jsonl:3: not a JSON object but list"),
        "nan.jsonl": (b'{"a": NaN}\n', "nan.jsonl:1: not JSON"),
        "bad.parquet": (b"PAR1 not really", "bad.parquet: not a readable Parquet file"),
        "x.dat": (b"a\n", "cannot tell the format from '.dat'"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError) as caught:
            readers.scan(path)
        assert expected in str(caught.value), name


def test_readers_give_file_lines_and_row_indexes(tmp_path) -> None:
    header_only = tmp_path / "h.csv"
    header_only.write_text("id,amount\n")
    assert readers.scan(header_only).rows == 0
    assert list(readers.rows(readers.scan(header_only))) == []
    quoted = tmp_path / "q.csv"
    quoted.write_text('id;note\n1;"two\nlines"\n\n2;x\n')
    found = readers.scan(quoted, options=readers.CsvOptions(delimiter=";"))
    assert [(n, r["id"]) for n, r in readers.rows(found)] == [(2, "1"), (5, "2")]
    parquet = write_parquet(tmp_path / "p.parquet", rows(5000))
    numbers = [n for n, _ in readers.rows(readers.scan(parquet))]
    assert numbers == list(range(1, 5001))
    huge = tmp_path / "huge.csv"
    huge.write_text("id,note\n1," + "x" * 2_000_000 + "\n")
    [(_, row)] = list(readers.rows(readers.scan(huge)))
    assert len(row["note"]) == 2_000_000


def test_the_command_line_refuses_before_asking_kafka(tmp_path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(MAPPING)
    data = write_csv(tmp_path / "p.csv", rows(3))
    code, _, err = ingest(NOWHERE, "x.", str(data), "--into", "predictions", "--mapping", str(m))
    assert code == 2
    assert f"{m}:5: column 'latency' is not in p.csv" in err
    code, _, err = ingest(
        NOWHERE, "x.", str(tmp_path / "none.csv"), "--into", "predictions", "--mapping", str(m)
    )
    assert (code, err.strip()) == (2, f"error: {tmp_path / 'none.csv'}: no such file")
    q = tmp_path / "q.yaml"
    q.write_text("contracts:\n  fraud:\n    fields:\n      features.amount: {type: nmber}\n")
    code, _, err = ingest(
        NOWHERE, "x.", str(data), "--into", "predictions", "--mapping", str(m), "--contract", str(q)
    )
    assert code == 2 and f"{q}:4:" in err
    code, _, err = ingest(
        NOWHERE,
        "x.",
        str(data),
        "--into",
        "predictions",
        "--mapping",
        str(m),
        "--register",
        "nameonly",
    )
    assert code == 2 and "give NAME:VERSION" in err
