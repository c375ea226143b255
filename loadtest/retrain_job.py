"""The demo's real trainer: what the local launcher runs for ``python -m loadtest.retrain_job``.

It reads the model's recent predictions and their feedback from Kafka, joins them by
``event_id``, trains a small river model (a standard scaler and a logistic regression on
``num_features``, target: the label is ``fraud``), measures accuracy and ROC AUC on the
newest rows (the held-out tail), writes the model (pickle) and its training rows (CSV)
under the artifacts folder (with ``holdout.csv``: the tail's 0/1 labels and scores, for a
policy's validation), and reports through the retrain callback: progress lines,
then the candidate with its metrics and its dataset (content hash and row count). Any
failure is reported as ``failed`` with the reason, and the process exits 1.

Environment (beside ``KAFKA_*``, ``WK_TOPIC_PREFIX`` and what the launcher sets):

=============================  ===========================================================
``WK_RETRAIN_MAX_EVENTS``      the model's last N predictions (default 20000)
``WK_RETRAIN_WINDOW_S``        and only those of the last S seconds (default: no limit)
``WK_RETRAIN_SCAN``            records read back per partition to find them (default 10 N)
``WK_RETRAIN_HOLDOUT``         the newest fraction held out for the metrics (default 0.2)
``WK_RETRAIN_MIN_ROWS``        fewer labelled rows than this fail the run (default 50)
``WK_RETRAIN_ARTIFACTS``       where ``<run_id>/model.pkl`` and ``training.csv`` go
                               (default ``retrain-artifacts``)
``WK_RETRAIN_NEW_VERSION``     the candidate's version (default ``<champion>-r<run number>``)
=============================  ===========================================================
"""

from __future__ import annotations

import csv
import math
import os
import pickle
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchkeeper.clients.dataset_hash import file_digest
from watchkeeper.codec import Codec, EventError
from watchkeeper.retrain_callback import Callback, CallbackError
from watchkeeper.settings import ConfigError, KafkaSettings, env_float, env_int, topic_prefix

POSITIVE = "fraud"


def new_version(champion: str, run_id: str, override: str | None = None) -> str:
    """The candidate's version: ``WK_RETRAIN_NEW_VERSION``, else ``<champion>-r<run number>``.

    >>> new_version("3.2.0", "fraud-7"), new_version("3.2.0", "fraud-7", "4.0.0")
    ('3.2.0-r7', '4.0.0')
    >>> new_version("3.2.0", "manual")
    '3.2.0-rmanual'
    """
    if override:
        return override
    tail = run_id.rsplit("-", 1)[-1]
    return f"{champion}-r{tail}"


@dataclass(frozen=True)
class Row:
    event_id: str
    event_time_ms: int
    features: dict[str, float]
    label: str


@dataclass(frozen=True)
class Settings:
    model: str
    champion: str
    run_id: str
    max_events: int
    window_s: float | None
    scan: int
    holdout: float
    min_rows: int
    artifacts: Path
    version: str

    @classmethod
    def from_env(cls) -> Settings:
        missing = [
            name
            for name in ("WK_RETRAIN_MODEL", "WK_RETRAIN_VERSION", "WK_RETRAIN_RUN_ID")
            if not os.environ.get(name)
        ]
        if missing:
            raise ConfigError(f"{', '.join(missing)} not set (the launcher sets them)")
        max_events = env_int("WK_RETRAIN_MAX_EVENTS", 20_000)
        window = env_float("WK_RETRAIN_WINDOW_S", 0.0)
        holdout = env_float("WK_RETRAIN_HOLDOUT", 0.2)
        if max_events < 1:
            raise ConfigError(f"WK_RETRAIN_MAX_EVENTS must be at least 1, got {max_events}")
        if not 0 < holdout < 1:
            raise ConfigError(f"WK_RETRAIN_HOLDOUT must be between 0 and 1, got {holdout}")
        run_id = os.environ["WK_RETRAIN_RUN_ID"]
        champion = os.environ["WK_RETRAIN_VERSION"]
        return cls(
            model=os.environ["WK_RETRAIN_MODEL"],
            champion=champion,
            run_id=run_id,
            max_events=max_events,
            window_s=window if window > 0 else None,
            scan=env_int("WK_RETRAIN_SCAN", 10 * max_events),
            holdout=holdout,
            min_rows=env_int("WK_RETRAIN_MIN_ROWS", 50),
            artifacts=Path(os.environ.get("WK_RETRAIN_ARTIFACTS") or "retrain-artifacts"),
            version=new_version(champion, run_id, os.environ.get("WK_RETRAIN_NEW_VERSION")),
        )


# -- reading ------------------------------------------------------------------------------


def _watermarks(consumer: Any, partition: Any, timeout_s: float) -> tuple[int, int]:
    """(low, high) of a partition; a leader still moving (a fresh topic) is waited for."""
    from confluent_kafka import KafkaError, KafkaException

    transient = {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=timeout_s)
        except KafkaException as exc:
            error = exc.args[0]
            retry = error.retriable() or error.code() in transient
            if not retry or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def _read(kafka: KafkaSettings, topic: str, starts: Any, timeout_s: float) -> list[tuple[Any, int]]:
    """(message, broker timestamp) of ``topic`` from per-partition ``starts`` to the end
    offsets as they are now. ``starts(consumer, partitions, {partition: (low, high)})``
    gives each partition's first offset."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    consumer = Consumer(
        kafka.confluent(
            **{
                "group.id": f"wk-retrain-job-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
    )
    out: list[tuple[Any, int]] = []
    try:
        found = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise ValueError(f"no topic {topic!r} on {kafka.bootstrap_servers}")
        parts = sorted(found.partitions)
        ends = {p: _watermarks(consumer, TopicPartition(topic, p), timeout_s) for p in parts}
        begin = starts(consumer, parts, ends)
        pending = {p for p in parts if begin[p] < ends[p][1]}
        consumer.assign([TopicPartition(topic, p, begin[p]) for p in pending])
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took over {timeout_s:g} s")
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
                if message.offset() >= ends[message.partition()][1]:
                    pending.discard(message.partition())
                continue
            if message.offset() < ends[message.partition()][1]:
                out.append((message, message.timestamp()[1]))
            if message.offset() + 1 >= ends[message.partition()][1]:
                pending.discard(message.partition())
    finally:
        consumer.close()
    return out


def read_rows(
    kafka: KafkaSettings, prefix: str, settings: Settings, timeout_s: float = 60.0
) -> tuple[list[Row], dict[str, int]]:
    """The model's recent labelled predictions, oldest first, and counts of what was read."""
    from confluent_kafka import TopicPartition

    codec = Codec()
    now_ms = int(time.time() * 1000)
    since_ms = now_ms - int(settings.window_s * 1000) if settings.window_s else None

    def recent(consumer, parts, ends):
        begin = {p: max(ends[p][0], ends[p][1] - settings.scan) for p in parts}
        if since_ms is not None:
            found = consumer.offsets_for_times(
                [TopicPartition(topic, p, since_ms) for p in parts], timeout=timeout_s
            )
            for tp in found:
                at = tp.offset if tp.offset >= 0 else ends[tp.partition][1]
                begin[tp.partition] = max(begin[tp.partition], at)
        return begin

    topic = prefix + "predictions"
    counts = {"predictions": 0, "undecodable": 0, "feedback": 0, "joined": 0}
    predictions: list[tuple[int, int, int, dict[str, Any]]] = []  # (stamp, part, offset, rec)
    for message, stamp in _read(kafka, topic, recent, timeout_s):
        try:
            record = codec.decode(message.value()).record
        except EventError:
            counts["undecodable"] += 1
            continue
        if record["model"] != settings.model or record.get("status", "OK") != "OK":
            continue
        if since_ms is not None and stamp < since_ms:
            continue
        predictions.append((stamp, message.partition(), message.offset(), record))
    predictions.sort(key=lambda p: (p[0], p[1], p[2]))
    predictions = predictions[-settings.max_events :]
    counts["predictions"] = len(predictions)
    if not predictions:
        return [], counts
    first_ms = predictions[0][0]

    def from_first(consumer, parts, ends):
        # Labels arrive after their predictions: read feedback from the oldest one kept.
        found = consumer.offsets_for_times(
            [TopicPartition(prefix + "feedback", p, first_ms) for p in parts], timeout=timeout_s
        )
        return {
            tp.partition: tp.offset if tp.offset >= 0 else ends[tp.partition][1] for tp in found
        }

    labels: dict[str, str] = {}
    for message, _ in _read(kafka, prefix + "feedback", from_first, timeout_s):
        try:
            record = codec.decode(message.value()).record
        except EventError:
            counts["undecodable"] += 1
            continue
        if record["model"] == settings.model and record.get("label") is not None:
            labels[record["event_id"]] = record["label"]  # a correction: the newest wins
            counts["feedback"] += 1
    rows = []
    for _, _, _, record in predictions:
        label = labels.get(record["event_id"])
        if label is None:
            continue
        features = {
            k: float(v) for k, v in (record.get("num_features") or {}).items() if math.isfinite(v)
        }
        rows.append(Row(record["event_id"], record["event_time_ms"], features, label))
    counts["joined"] = len(rows)
    return rows, counts


# -- training -----------------------------------------------------------------------------


def train(rows: list[Row], holdout: float) -> tuple[Any, dict[str, float], int]:
    """Fit on the oldest rows, score the newest ``holdout`` share: (model, metrics, split).

    >>> rows = [Row(str(i), i, {"amount": float(a)}, "fraud" if a > 50 else "legit")
    ...         for i, a in enumerate([10, 90, 20, 80, 30, 70, 40, 60, 5, 95] * 10)]
    >>> model, metrics, split = train(rows, 0.2)
    >>> split, sorted(metrics), metrics["accuracy"] > 0.9
    (80, ['accuracy', 'auc'], True)
    """
    from river import linear_model, metrics, preprocessing

    split = max(1, min(len(rows) - 1, round(len(rows) * (1 - holdout))))
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for row in rows[:split]:
        model.learn_one(row.features, row.label == POSITIVE)
    accuracy, auc = metrics.Accuracy(), metrics.ROCAUC()
    for row in rows[split:]:
        truth = row.label == POSITIVE
        proba = model.predict_proba_one(row.features).get(True, 0.0)
        accuracy.update(truth, proba >= 0.5)
        auc.update(truth, proba)
    scores = {"accuracy": float(accuracy.get()), "auc": float(auc.get())}
    return model, {k: (v if math.isfinite(v) else 0.0) for k, v in scores.items()}, split


def write_artifacts(folder: Path, model: Any, rows: list[Row], split: int) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / "model.pkl"
    with open(model_path, "wb") as handle:
        pickle.dump(model, handle)
    names = sorted({name for row in rows for name in row.features})
    data_path = folder / "training.csv"
    with open(data_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "event_time_ms", *names, "label", "split"])
        for i, row in enumerate(rows):
            values = [row.features.get(name, "") for name in names]
            split_name = "train" if i < split else "holdout"
            writer.writerow([row.event_id, row.event_time_ms, *values, row.label, split_name])
    return model_path, data_path


def write_holdout(folder: Path, model: Any, rows: list[Row], split: int) -> Path:
    """The held-out tail as ``gate validate`` reads it: ``label`` 0/1 (1: fraud) and the
    model's ``candidate_score``, so a retrain policy can validate on ``{run_id}``'s file."""
    path = folder / "holdout.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "label", "candidate_score"])
        for row in rows[split:]:
            score = model.predict_proba_one(row.features).get(True, 0.0)
            writer.writerow([row.event_id, int(row.label == POSITIVE), f"{score:.6f}"])
    return path


# -- the job ------------------------------------------------------------------------------


def run(callback: Callback, settings: Settings, kafka: KafkaSettings, prefix: str) -> None:
    window = f" of the last {settings.window_s:g} s" if settings.window_s else ""
    callback.progress(
        f"reading the last {settings.max_events} predictions{window} of {settings.model} "
        f"and their feedback from {prefix}predictions and {prefix}feedback"
    )
    rows, counts = read_rows(kafka, prefix, settings)
    callback.progress(
        f"read {counts['predictions']} predictions and {counts['feedback']} labels; "
        f"{counts['joined']} joined by event_id"
    )
    if len(rows) < settings.min_rows:
        raise ValueError(
            f"only {len(rows)} labelled predictions of {settings.model} "
            f"(at least {settings.min_rows} needed; WK_RETRAIN_MIN_ROWS)"
        )
    model, scores, split = train(rows, settings.holdout)
    callback.progress(
        f"trained on {split} rows; on the {len(rows) - split} held out: "
        f"accuracy {scores['accuracy']:.3f}, AUC {scores['auc']:.3f}"
    )
    folder = settings.artifacts.resolve() / settings.run_id
    model_path, data_path = write_artifacts(folder, model, rows, split)
    write_holdout(folder, model, rows, split)
    features = sorted({name for row in rows for name in row.features})
    callback.candidate(
        settings.version,
        model_path.as_uri(),
        metrics=scores,
        datasets=[
            {
                "name": f"{settings.model}-training",
                "version": settings.version,
                "uri": data_path.as_uri(),
                "content_hash": file_digest(data_path),
                "row_count": len(rows),
            }
        ],
        # The callback's params are strings (the retrain service's schema).
        params={
            "learner": "StandardScaler | LogisticRegression (river)",
            "target": f"label == {POSITIVE!r}",
            "features": ", ".join(features),
            "max_events": str(settings.max_events),
            "window_s": "none" if settings.window_s is None else f"{settings.window_s:g}",
            "holdout": f"{settings.holdout:g}",
            "train_rows": str(split),
            "holdout_rows": str(len(rows) - split),
        },
    )


def main() -> int:
    try:
        callback = Callback.from_env()
    except CallbackError as exc:
        print(f"retrain_job: {exc}", file=sys.stderr)
        return 2
    try:
        run(callback, Settings.from_env(), KafkaSettings.from_env(), topic_prefix())
    except CallbackError as exc:
        print(f"retrain_job: cannot report: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        print(f"retrain_job: failed: {reason}", file=sys.stderr)
        try:
            callback.failed(reason)
        except CallbackError as report:
            print(f"retrain_job: cannot report the failure: {report}", file=sys.stderr)
        return 1
    print("retrain_job: candidate reported", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
