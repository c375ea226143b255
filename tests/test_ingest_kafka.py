"""watchkeeper ingest against the real broker: every format read back exactly, bad rows in
the dead-letter topic, a re-ingest that adds nothing, refused files that send nothing,
and the gate stopping and resuming the pipeline."""

from __future__ import annotations

import json

import pytest

from tests.ingest_support import (
    committed,
    ends,
    events,
    ingest,
    ingest_file,
    rows,
    spawn,
    write_csv,
    write_jsonl,
    write_parquet,
    write_setup,
)
from watchkeeper.codec import Codec
from watchkeeper.ingest.mapping import row_id
from watchkeeper.ingest.readers import scan

pytestmark = pytest.mark.kafka
TOPICS = ("predictions", "dlq", "lineage", "ingest-state")


@pytest.mark.parametrize(
    ("fmt", "writer", "first_row"),
    [("csv", write_csv, 2), ("jsonl", write_jsonl, 1), ("parquet", write_parquet, 1)],
)
def test_every_format_arrives_exactly_once(
    fmt, writer, first_row, kafka_settings, prefix, tmp_path
) -> None:
    mapping, transform = write_setup(tmp_path)
    data = rows(1200)
    path = writer(tmp_path / f"payments.{fmt}", data)
    code, out, err = ingest_file(
        kafka_settings,
        prefix,
        str(path),
        str(mapping),
        "--transform",
        str(transform),
        "--batch-rows",
        "500",
        "--json",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["rows_read"], summary["sent"], summary["dead_lettered"]) == (1200, 1200, {})
    got = {e["event_id"]: e for e in events(kafka_settings, prefix + "predictions")}
    digest = scan(path).digest
    # Deterministic ids: uuid5 of the file's hash and the row's number (line or index).
    assert set(got) == {row_id(digest, first_row + i) for i in range(1200)}
    first = got[row_id(digest, first_row + 7)]
    assert first["latency_ms"] == pytest.approx(1.007)
    assert first["num_features"] == {"amount": 10.5}
    assert first["cat_features"] == {"channel": "web"}
    assert first["segments"] == {"country": "de"}
    assert (first["model"], first["version"], first["score"]) == ("fraud", "2", 0.07)
    assert first["event_time_ms"] == 1_796_119_207_000  # 2026-12-01T10:00:07Z

    # The same file again: nothing sent, every end offset where it was.
    before = ends(kafka_settings, prefix, *TOPICS)
    code, out, err = ingest_file(
        kafka_settings, prefix, str(path), str(mapping), "--transform", str(transform)
    )
    assert code == 0
    assert "already ingested payments." in err
    assert ends(kafka_settings, prefix, *TOPICS) == before


def test_bad_rows_go_to_the_dead_letter_topic_with_their_row_number(
    kafka_settings, prefix, tmp_path
) -> None:
    mapping, transform = write_setup(tmp_path)
    data = rows(10)
    data[3]["amount"] = "twelve"  # line 5: does not cast
    data[5]["lat_us"] = "-5000"  # line 7: latency below the schema's minimum
    data[6]["ts"] = ""  # line 8: a required field empty
    path = write_csv(tmp_path / "p.csv", data)
    with path.open("a") as f:
        f.write("99,2026-12-01T10:00:00Z,2\n")  # line 12: three cells, not eight
    code, out, err = ingest_file(
        kafka_settings, prefix, str(path), str(mapping), "--transform", str(transform), "--json"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["dead_lettered"] == {"cast": 1, "missing": 1, "schema": 1, "shape": 1}
    assert (summary["rows_read"], summary["sent"]) == (11, 7)
    assert len(events(kafka_settings, prefix + "predictions")) == 7
    letters = committed(kafka_settings, prefix + "dlq")
    by_row = {}
    for m in letters:
        h = {k: v.decode() for k, v in m.headers()}
        by_row[int(h["dlq.source.row"])] = (h, json.loads(m.value()))
    assert sorted(by_row) == [5, 7, 8, 12]
    headers, value = by_row[5]
    assert headers["dlq.error.kind"] == "cast"
    assert "amount" in headers["dlq.error.message"] and "twelve" in headers["dlq.error.message"]
    assert headers["dlq.source.file"] == str(path.resolve())
    assert headers["dlq.topic"] == prefix + "predictions"
    assert headers["dlq.service"] == "ingest"
    assert value["amount"] == "twelve" and value["lat_us"] == "1003"  # the row as the file had it
    assert "latency_ms" in by_row[7][0]["dlq.error.message"]
    assert by_row[12][1] == ["99", "2026-12-01T10:00:00Z", "2"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"id,ts\n1,\xff\xfe\n", "p.csv:2: not utf-8-sig text"),
        (b"", "p.csv: the file is empty (0 bytes)"),
        (b'id,"ts\n1,2\n', "p.csv:"),  # a quote never closed
    ],
)
def test_a_malformed_file_sends_nothing(
    content, expected, kafka_settings, prefix, tmp_path
) -> None:
    mapping, _ = write_setup(tmp_path)
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    before = ends(kafka_settings, prefix, *TOPICS)
    code, _, err = ingest_file(kafka_settings, prefix, str(path), str(mapping))
    assert code == 2
    assert expected in err, err
    assert ends(kafka_settings, prefix, *TOPICS) == before


def test_a_missing_column_and_a_broken_parquet_send_nothing(kafka_settings, prefix, tmp_path):
    mapping, transform = write_setup(tmp_path)
    path = write_csv(tmp_path / "p.csv", rows(5))
    # Without the transformation, latency (which it derives) is no column of the file.
    broken = tmp_path / "b.parquet"
    full = write_parquet(tmp_path / "full.parquet", rows(50)).read_bytes()
    broken.write_bytes(full[: len(full) // 2])  # the footer is gone
    before = ends(kafka_settings, prefix, *TOPICS)
    code, _, err = ingest_file(kafka_settings, prefix, str(path), str(mapping))
    assert code == 2
    assert f"{mapping}:5: column 'latency' is not in p.csv" in err
    code, _, err = ingest_file(
        kafka_settings, prefix, str(broken), str(mapping), "--transform", str(transform)
    )
    assert code == 2
    assert f"{broken}: not a readable Parquet file" in err
    assert ends(kafka_settings, prefix, *TOPICS) == before


def _gate(kafka_settings, prefix: str, name: str, state: str) -> None:
    from confluent_kafka import Producer

    record = {
        "gate": name,
        "model": "fraud",
        "state": state,
        "reasons": [
            {"check": "completeness", "value": 0.5, "threshold": 0.99, "detail": "amount missing"}
        ]
        if state == "BLOCKED"
        else [],
        "since_ms": 1_796_119_200_000,
        "event_time_ms": 1_796_119_200_000,
    }
    producer = Producer(kafka_settings.confluent())
    producer.produce(prefix + "gates", Codec().encode("GateState", record), name.encode())
    assert producer.flush(30) == 0


def test_a_blocked_gate_stops_the_pipeline_and_wait_resumes_it(
    kafka_settings, prefix, tmp_path
) -> None:
    mapping, transform = write_setup(tmp_path)
    path = write_csv(tmp_path / "p.csv", rows(300))
    args = [
        str(path),
        "--into",
        "predictions",
        "--mapping",
        str(mapping),
        "--transform",
        str(transform),
        "--gate",
        "fraud-training",
    ]
    _gate(kafka_settings, prefix, "fraud-training", "BLOCKED")
    before = ends(kafka_settings, prefix, *TOPICS)
    code, _, err = ingest(kafka_settings.bootstrap_servers, prefix, *args)
    assert code == 3
    assert "gate fraud-training: blocked: completeness 0.5 < 0.99 (amount missing)" in err
    assert ends(kafka_settings, prefix, "predictions", "dlq") == {
        t: before[t] for t in ("predictions", "dlq")
    }

    log = tmp_path / "wait.log"
    waiting = spawn(
        kafka_settings.bootstrap_servers, prefix, *args, "--wait", "--poll-s", "0.5", log=log
    )
    try:
        from tests.helpers import wait_for

        wait_for(lambda: "waiting for it to open" in log.read_text(), 60, "the gate's reason")
        assert log.read_text().count("waiting for it to open") == 1
        assert ends(kafka_settings, prefix, "predictions")["predictions"] == before["predictions"]
        _gate(kafka_settings, prefix, "fraud-training", "UNBLOCKED")
        assert waiting.wait(120) == 0, log.read_text()
    finally:
        if waiting.poll() is None:
            waiting.kill()
    text = log.read_text()
    assert "gate fraud-training is open: going on" in text
    assert len(events(kafka_settings, prefix + "predictions")) == 300


def test_hostile_rows_are_dead_letters_and_a_header_only_file_is_done(
    kafka_settings, prefix, tmp_path
) -> None:
    mapping, _ = write_setup(tmp_path)
    mapping.write_text(
        mapping.read_text().replace("latency_ms: latency", "latency_ms: lat_us")
        + "  prediction_label: note\n"
    )
    contract = tmp_path / "quality.yaml"
    contract.write_text(
        "contracts:\n  fraud:\n    fields:\n"
        "      features.amount: {type: number, required: true, min: 0}\n"
    )
    data = rows(6)
    data[0]["note"] = "x" * 2_000_000  # a 2 MB cell: no Kafka message holds it
    data[1]["lat_us"] = "NaN"  # not a finite latency
    data[2]["amount"] = "-3"  # breaks the contract's range
    data[3]["amount"] = ""  # missing: the contract requires it
    data[4]["score"] = "[1, 2]"  # no number
    for r in data[1:]:
        r["note"] = "fine"
    path = tmp_path / "hostile.jsonl"
    write_jsonl(path, data)
    code, out, err = ingest_file(
        kafka_settings, prefix, str(path), str(mapping), "--contract", str(contract), "--json"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["dead_lettered"] == {"cast": 2, "contract": 2, "too_large": 1}
    assert summary["sent"] == 1
    letters = {
        int(dict(m.headers())["dlq.source.row"]): m
        for m in committed(kafka_settings, prefix + "dlq")
    }
    assert sorted(letters) == [1, 2, 3, 4, 5]
    big = json.loads(letters[1].value())
    assert big["truncated_from_bytes"] > 2_000_000 and len(big["head"]) == 64 * 1024
    reasons = {n: dict(m.headers())["dlq.error.message"].decode() for n, m in letters.items()}
    assert reasons[3] == "features.amount: out of range or not allowed"
    assert reasons[4] == "features.amount: required, missing"

    header_only = tmp_path / "empty.csv"
    header_only.write_text("id,ts,version,lat_us,score,amount,channel,country,note\n")
    code, out, err = ingest_file(kafka_settings, prefix, str(header_only), str(mapping), "--json")
    assert code == 0, err
    assert (json.loads(out)["rows_read"], json.loads(out)["status"]) == (0, "done")


def test_again_sends_the_file_once_more_with_the_same_ids(kafka_settings, prefix, tmp_path):
    mapping, transform = write_setup(tmp_path)
    path = write_csv(tmp_path / "p.csv", rows(40))
    args = [
        str(path),
        "--into",
        "predictions",
        "--mapping",
        str(mapping),
        "--transform",
        str(transform),
        "--json",
    ]
    assert ingest(kafka_settings.bootstrap_servers, prefix, *args)[0] == 0
    code, out, err = ingest(kafka_settings.bootstrap_servers, prefix, *args, "--again")
    assert code == 0, err
    assert (json.loads(out)["attempt"], json.loads(out)["sent"]) == (2, 40)
    ids = [e["event_id"] for e in events(kafka_settings, prefix + "predictions")]
    assert len(ids) == 80 and len(set(ids)) == 40


def test_a_parquet_page_broken_mid_file_keeps_what_was_committed(kafka_settings, prefix, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.ingest_support import committed
    from watchkeeper.ingest.checkpoint import Checkpoint

    mapping, transform = write_setup(tmp_path)
    path = tmp_path / "broken.parquet"
    pq.write_table(pa.Table.from_pylist(rows(5000)), path, row_group_size=1000)
    column = pq.ParquetFile(path).metadata.row_group(3).column(5)  # rows 3,001-4,000
    data = bytearray(path.read_bytes())
    start = column.data_page_offset
    data[start + 20 : start + column.total_compressed_size - 5] = b"\xab" * (
        column.total_compressed_size - 25
    )
    path.write_bytes(bytes(data))  # the footer is intact: the scan cannot tell
    code, _, err = ingest_file(
        kafka_settings,
        prefix,
        str(path),
        str(mapping),
        "--transform",
        str(transform),
        "--batch-rows",
        "400",
    )
    assert code == 2
    assert f"{path}:3001: cannot read Parquet" in err
    # Seven transactions of 400 committed; the eighth (200 rows) aborted with the error.
    assert len(events(kafka_settings, prefix + "predictions")) == 2800
    *_, state = committed(kafka_settings, prefix + "ingest-state")  # the newest checkpoint
    checkpoint = Checkpoint.from_json(state.value())
    assert (checkpoint.status, checkpoint.position) == ("failed", 2800)
    assert "cannot read Parquet" in checkpoint.reason
    runs = [json.loads(m.value()) for m in committed(kafka_settings, prefix + "lineage")]
    assert sorted({e["eventType"] for e in runs}) == ["FAIL", "START"]


def test_a_gate_blocked_mid_file_stops_after_a_commit_and_a_rerun_resumes(
    kafka_settings, prefix, tmp_path, monkeypatch
) -> None:
    from watchkeeper.ingest.mapping import row_id

    mapping, transform = write_setup(tmp_path)
    transform.write_text(transform.read_text() + "  - hook: tests.ingest_hooks:block_gate_at\n")
    path = write_csv(tmp_path / "p.csv", rows(3000))
    _gate(kafka_settings, prefix, "fraud-training", "UNBLOCKED")
    monkeypatch.setenv("WK_TEST_BLOCK_AT_ID", "1200")  # in the third batch of 500
    monkeypatch.setenv("WK_TEST_GATE", "fraud-training")
    monkeypatch.setenv("WK_TEST_GATES_TOPIC", prefix + "gates")
    args = [
        str(path),
        "--into",
        "predictions",
        "--mapping",
        str(mapping),
        "--transform",
        str(transform),
        "--gate",
        "fraud-training",
        "--batch-rows",
        "500",
        "--json",
    ]
    code, _, err = ingest(kafka_settings.bootstrap_servers, prefix, *args)
    assert code == 3
    assert "gate fraud-training: blocked: freshness 0.4 < 0.95" in err
    assert len(events(kafka_settings, prefix + "predictions")) == 1500  # three batches

    monkeypatch.delenv("WK_TEST_BLOCK_AT_ID")
    _gate(kafka_settings, prefix, "fraud-training", "UNBLOCKED")
    code, out, err = ingest(kafka_settings.bootstrap_servers, prefix, *args)
    assert code == 0, err
    assert json.loads(out)["resumed_from"] == 1500
    ids = [e["event_id"] for e in events(kafka_settings, prefix + "predictions")]
    digest = scan(path).digest
    assert sorted(ids) == sorted(row_id(digest, 2 + i) for i in range(3000))


def test_feedback_and_telemetry_files(kafka_settings, prefix, tmp_path) -> None:
    feedback_map = tmp_path / "feedback.yaml"
    feedback_map.write_text(
        "fields:\n  event_id: prediction_id\n  event_time_ms: {column: at, time: epoch_s}\n"
        "  model: {const: fraud}\n  label: truth\n"
    )
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {
                "prediction_id": f"p-{i}",
                "at": 1_796_119_200 + i,
                "truth": "fraud" if i % 3 else "ok",
            }
            for i in range(30)
        ],
    )
    code, _, err = ingest_file(
        kafka_settings, prefix, str(labels), str(feedback_map), into="feedback"
    )
    assert code == 0, err
    got = sorted(events(kafka_settings, prefix + "feedback"), key=lambda e: e["event_time_ms"])
    assert [e["event_id"] for e in got] == [f"p-{i}" for i in range(30)]
    assert (got[1]["label"], got[1]["event_time_ms"]) == ("fraud", 1_796_119_201_000)

    telemetry_map = tmp_path / "telemetry.yaml"
    telemetry_map.write_text(
        "fields:\n  event_time_ms: ts\n  host: host\n  model: model\n  version: {const: '3'}\n"
        "  cpu_utilization: cpu\n  spot: spot\n  replicas: replicas\n"
    )
    samples = write_parquet(
        tmp_path / "hosts.parquet",
        [
            {
                "ts": 1_796_119_200_000 + i,
                "host": f"h{i % 2}",
                "model": "fraud",
                "cpu": 0.5,
                "spot": "yes" if i % 2 else "no",
                "replicas": 2 if i < 19 else 2.5,
            }
            for i in range(20)
        ],
    )
    code, out, err = ingest_file(
        kafka_settings, prefix, str(samples), str(telemetry_map), "--json", into="telemetry"
    )
    assert code == 0, err
    assert json.loads(out)["dead_lettered"] == {"cast": 1}  # 2.5 replicas is no integer
    got = events(kafka_settings, prefix + "telemetry")
    assert len(got) == 19
    assert {(e["host"], e["spot"]) for e in got} == {("h0", False), ("h1", True)}
