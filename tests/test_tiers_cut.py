"""``watchkeeper dataset cut``: a range of the tiers written to one Parquet file, registered
in the real registry service with the file's content hash and row count, and its lineage
(tier dataset → job archive.cut → registered dataset) visible through the lineage API."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from tests.helpers import wait_for
from tests.registry_support import TOKENS, client, start_registry
from tests.tiers_support import compact, events, expected, recent_hour_ms, write_cold
from watchkeeper.cli import main
from watchkeeper.clients.dataset_hash import file_digest
from watchkeeper.tiering.layout import HOUR_MS
from watchkeeper.tiering.store import Store
from watchkeeper.tiers_cli.cut import JOB_NODE, tier_dataset

pytestmark = pytest.mark.kafka
START = recent_hour_ms()
ROWS = events(900, START, 3 * HOUR_MS)


def test_a_cut_is_registered_with_its_hash_and_lineage(start_service, prefix, tmp_path, capsys):
    registry = start_registry(start_service, prefix, tmp_path)
    store = Store.open(str(tmp_path / "tiers"))
    cold = write_cold(store, ROWS)
    compact(store, cold[: len(cold) // 2], delete=False)  # a compaction cut short
    out = tmp_path / "cuts" / "fraud-train.parquet"
    since, until = START + HOUR_MS // 2, START + 3 * HOUR_MS
    argv = ["dataset", "cut", "--root", str(tmp_path / "tiers"), "--topic", "predictions",
            f"--since={since}", f"--until={until}", "--where", "model = 'fraud'",
            "--out", str(out), "--name", "fraud-train", "--version", "1",
            "--registry", registry.url, "--token", TOKENS["writer"]]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err

    want = {k for k, v in expected(ROWS, since, until).items() if v[0]["model"] == "fraud"}
    table = pq.read_table(out)
    assert sorted(table.column("event_id").to_pylist()) == sorted(want)  # no doubles
    coordinates = (table.column("_partition").to_pylist(), table.column("_offset").to_pylist())
    order = list(zip(*coordinates, strict=True))
    assert order == sorted(order)

    reader = client(registry, "reader")
    dataset = wait_for(lambda: _dataset(reader), what="the dataset registered")
    assert dataset["content_hash"] == file_digest(out)
    assert dataset["row_count"] == len(want)
    assert dataset["uri"] == out.resolve().as_uri()
    assert dataset["time_range"] == {"start_ms": since, "end_ms": until}

    node = "dataset:watchkeeper:fraud-train"
    archive = "dataset:{}:{}".format(*tier_dataset(store, "archive", "predictions"))
    cold_node = "dataset:{}:{}".format(*tier_dataset(store, "cold", "predictions"))
    upstream = wait_for(lambda: _upstream(reader, node) >= {JOB_NODE, archive} and
                        _upstream(reader, node), what="the cut's lineage")  # fmt: skip
    assert {JOB_NODE, archive, cold_node} <= upstream
    graph = {n["id"]: n for n in reader.get("/api/v1/lineage", nodeId=JOB_NODE)["graph"]}
    edges = {(e["origin"], e["destination"]) for e in graph[JOB_NODE]["outEdges"]}
    assert (JOB_NODE, node) in edges

    # The same cut again is the same registration (idempotent), not a second version.
    assert main(argv) == 0
    assert len(reader.list_datasets("fraud-train")["datasets"]) == 1


def _dataset(reader):
    try:
        return reader.get_dataset("fraud-train", "1")
    except Exception:  # not there yet (404)
        return None


def _upstream(reader, node: str) -> set[str]:
    try:
        return {n["id"] for n in reader.get("/api/v1/lineage/upstream", nodeId=node)["nodes"]}
    except Exception:  # the node is not in the graph yet
        return set()


def test_a_cut_of_a_corrupt_part_or_an_empty_range_writes_nothing(tmp_path, capsys) -> None:
    store = Store.open(str(tmp_path / "tiers"))
    cold = write_cold(store, ROWS)
    out = tmp_path / "cut.parquet"
    base = ["dataset", "cut", "--root", str(tmp_path / "tiers"), "--topic", "predictions",
            "--out", str(out), "--name", "x", "--version", "1",
            "--registry", "http://127.0.0.1:9"]  # fmt: skip
    assert main([*base, f"--since={START - 9 * HOUR_MS}", f"--until={START - 8 * HOUR_MS}"]) == 2
    assert "no readable part of predictions" in capsys.readouterr().err
    (tmp_path / "tiers" / cold[0]).write_bytes(b"not parquet at all")
    assert main([*base, f"--since={START}", f"--until={START + HOUR_MS}"]) == 2
    assert cold[0] in capsys.readouterr().err
    assert main([*base, f"--since={START}", "--until=now", "--where", "nope > 1"]) == 2
    assert "nope" in capsys.readouterr().err
    evil = tmp_path / "evil.csv"
    smuggled = f"1=1); COPY (SELECT 1) TO '{evil}'; SELECT (1"
    assert main([*base, f"--since={START}", "--until=now", "--where", smuggled]) == 2
    assert "one condition, not statements" in capsys.readouterr().err
    assert not out.exists() and not evil.exists()


def test_an_unreachable_registry_leaves_the_file_and_exits_1(tmp_path, capsys) -> None:
    from watchkeeper.ports import free_port

    store = Store.open(str(tmp_path / "tiers"))
    write_cold(store, ROWS[:120])
    out = tmp_path / "cut.parquet"
    argv = ["dataset", "cut", "--root", str(tmp_path / "tiers"), "--topic", "predictions",
            f"--since={START}", "--until=now", "--out", str(out), "--name", "x",
            "--version", "1", "--registry", f"http://127.0.0.1:{free_port()}"]  # fmt: skip
    assert main(argv) == 1
    assert "error: registry: 503" in capsys.readouterr().err
    assert pq.read_metadata(out).num_rows == 120  # a re-run registers it
