"""Codec decode rate for PredictionEvent, beside ``json.loads`` of the same event.

Writes ``loadtest/results/codec.json``: decode_events_per_s, baseline_json_events_per_s.
"""

from __future__ import annotations

import json

from watchkeeper.codec import Codec

from .harness import best_rate, table, write_results

BATCH = 20_000


def wide_prediction(codec: Codec) -> dict:
    """The golden fraud example widened to 20 numeric and 5 categorical features."""
    event = dict(codec.registry.examples("PredictionEvent")["fraud_ok"])
    event["num_features"] = {f"f{i:02d}": i * 1.5 for i in range(20)}
    event["cat_features"] = {f"c{i}": f"value-{i}" for i in range(5)}
    return event


def run(kafka_bootstrap: str | None = None) -> dict[str, float]:
    codec = Codec()
    rows = []
    figures: dict[str, float] = {}
    for label, event in (
        ("fraud_ok (3 num, 2 cat)", codec.registry.examples("PredictionEvent")["fraud_ok"]),
        ("wide (20 num, 5 cat)", wide_prediction(codec)),
    ):
        avro = codec.encode("PredictionEvent", event)
        text = json.dumps(event).encode()
        messages = [avro] * BATCH
        texts = [text] * BATCH

        def decode(messages=messages) -> int:
            for data in messages:
                codec.decode_as("PredictionEvent", data)
            return len(messages)

        def json_decode(texts=texts) -> int:
            for data in texts:
                json.loads(data)
            return len(texts)

        def encode(event=event) -> int:
            for _ in range(BATCH):
                codec.encode("PredictionEvent", event)
            return BATCH

        avro_rate, json_rate, encode_rate = (
            best_rate(decode),
            best_rate(json_decode),
            best_rate(encode),
        )
        rows.append(
            [label, avro_rate, json_rate, avro_rate / json_rate, encode_rate, len(avro), len(text)]
        )
        if not figures:
            figures = {
                "decode_events_per_s": avro_rate,
                "baseline_json_events_per_s": json_rate,
                "ratio": avro_rate / json_rate,
                "encode_events_per_s": encode_rate,
                "avro_bytes": len(avro),
                "json_bytes": len(text),
            }
        else:
            figures["wide_decode_events_per_s"] = avro_rate
            figures["wide_baseline_json_events_per_s"] = json_rate
    print(
        table(
            "codec: PredictionEvent decode (validated) vs json.loads, best of 5 x 20,000",
            ["event", "decode/s", "json/s", "ratio", "encode+validate/s", "avro B", "json B"],
            rows,
        )
    )
    print(f"-> {write_results('codec', figures)}")
    return figures
