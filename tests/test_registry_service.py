"""The registry against a real broker: models, datasets, versions, gated aliases, retries,
stale writes, scopes, bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.registry_support import TOKENS, client, start_registry
from watchkeeper.clients import ApiError

pytestmark = pytest.mark.kafka


@pytest.fixture
def registry(start_service, prefix, tmp_path):
    return start_registry(start_service, prefix, tmp_path)


def refused(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def seed(rc) -> None:
    rc.register_dataset(
        "transactions", "2026-11", uri="s3://d/tx-2026-11.parquet",
        content_hash="sha256:" + "a" * 64, row_count=120_000,
        schema=[{"name": "amount", "type": "double"}], source="postgres://ledger",
    )  # fmt: skip
    rc.create_model("fraud", description="card fraud", owner_team="risk", tags={"tier": "1"})
    rc.register_version(
        "fraud", "1.0.0", artifact_uri="s3://m/fraud/1.0.0", flavor="sklearn",
        training_datasets=[{"name": "transactions", "version": "2026-11"}],
        params={"max_depth": "6"}, metrics={"auc": 0.84}, code_commit="abc123",
    )  # fmt: skip


def test_register_models_datasets_and_versions(registry) -> None:
    rc = client(registry)
    seed(rc)
    model = rc.get_model("fraud")
    assert (model["owner_team"], model["tags"], model["versions"], model["latest_version"]) == (
        "risk", {"tier": "1"}, 1, "1.0.0",
    )  # fmt: skip
    version = rc.get_version("fraud", "1.0.0")
    assert version["training_datasets"] == [{"name": "transactions", "version": "2026-11"}]
    assert (version["params"], version["metrics"], version["created_by"]) == (
        {"max_depth": "6"}, {"auc": 0.84}, "writer",
    )  # fmt: skip
    assert rc.get_dataset("transactions", "2026-11")["row_count"] == 120_000
    assert [m["name"] for m in rc.list_models(tag="tier=1")["models"]] == ["fraud"]
    assert rc.list_models(tag="tier=2")["models"] == []
    assert [v["version"] for v in rc.search_versions(metric="auc>=0.8")["versions"]] == ["1.0.0"]
    assert rc.search_versions(metric="auc>0.9")["versions"] == []
    # A version naming a dataset nobody registered is refused, naming it.
    error = refused(rc.register_version, "fraud", "1.0.1",
                    training_datasets=[{"name": "nope", "version": "1"}])  # fmt: skip
    assert error.status == 400 and "nope" in error.reason
    assert refused(rc.create_model, "fraud").status == 409
    assert refused(rc.get_model, "churn").status == 404


def test_a_gated_alias_move_needs_a_passing_validation_and_no_worse_metrics(registry) -> None:
    rc, admin = client(registry), client(registry, "admin")
    seed(rc)
    error = refused(rc.set_alias, "fraud", "champion", "1.0.0", reason="first")
    assert (error.status, error.reason) == (409, "fraud version 1.0.0 has no passing validation")
    rc.record_validation("fraud", "1.0.0", passed=True, metrics={"auc": 0.84}, validator="ci")
    assert rc.set_alias("fraud", "champion", "1.0.0", reason="first")["previous"] is None
    rc.register_version("fraud", "1.1.0", metrics={"auc": 0.80})
    rc.record_validation("fraud", "1.1.0", passed=True, metrics={"auc": 0.80})
    error = refused(rc.set_alias, "fraud", "champion", "1.1.0")
    assert error.status == 409
    assert error.reason == (
        "fraud version 1.1.0: auc 0.8 is worse than 0.84 of version 1.0.0 (higher is better)"
    )
    # An ungated alias moves freely.
    assert rc.set_alias("fraud", "challenger", "1.1.0")["version"] == "1.1.0"
    # Forcing needs the admin scope and a reason.
    assert refused(rc.set_alias, "fraud", "champion", "1.1.0", "hotfix", True).status == 403
    assert refused(admin.set_alias, "fraud", "champion", "1.1.0", "", True).status == 400
    moved = admin.set_alias("fraud", "champion", "1.1.0", reason="incident 42 rollback", force=True)
    assert (moved["previous"], moved["forced"]) == ("1.0.0", True)
    assert rc.get_model("fraud")["aliases"] == {"champion": "1.1.0", "challenger": "1.1.0"}
    moves = [e for e in rc.history("model", "fraud")["events"] if e["type"] == "alias.set"]
    assert [(e["data"]["alias"], e["data"]["version"], e["data"]["forced"]) for e in moves] == [
        ("champion", "1.0.0", False), ("challenger", "1.1.0", False), ("champion", "1.1.0", True),
    ]  # fmt: skip
    assert (moves[-1]["audit"]["actor"], moves[-1]["audit"]["reason"]) == (
        "admin", "incident 42 rollback",
    )  # fmt: skip
    assert moves[-1]["audit"]["source"] == "127.0.0.1"


def test_a_retried_command_is_applied_once(registry) -> None:
    rc = client(registry)
    first = rc.create_model("churn", owner_team="growth", idempotency_key="create-churn-1")
    again = rc.create_model("churn", owner_team="growth", idempotency_key="create-churn-1")
    assert first == again
    assert len(rc.history("model", "churn")["events"]) == 1
    error = refused(rc.create_model, "churn", owner_team="other", idempotency_key="create-churn-1")
    assert error.status == 422 and "create-churn-1" in error.reason


def test_a_stale_write_is_refused_with_409(registry) -> None:
    rc = client(registry)
    rc.create_model("churn")
    seen = rc.get_model("churn")["entity_version"]
    rc.update_model("churn", description="v2", expected_version=seen)
    error = refused(rc.update_model, "churn", description="v3", expected_version=seen)
    assert (error.status, error.reason) == (
        409,
        f"model churn is at version {seen + 1}, not {seen}",
    )
    assert rc.get_model("churn")["description"] == "v2"


def test_tokens_without_the_scope_are_refused(registry) -> None:
    reader = client(registry, "reader")
    assert refused(reader.create_model, "x").status == 403
    assert reader.list_models()["models"] == []
    assert refused(client(registry, "writer").dump).status == 403
    assert client(registry, "admin").dump()["events"] == 0
    for headers in ({}, {"Authorization": "Bearer not-a-token-at-all"}, {"Authorization": "x"}):
        response = httpx.get(registry.url + "/api/v1/models", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b'{"name": "m", "colour": "red"}', "application/json", 400, "'colour' was unexpected"),
        (b'{"name": 7}', "application/json", 400, "$.name: 7 is not of type 'string'"),
        (b'{"name": "../../etc"}', "application/json", 400, "$.name:"),
        (b"{not json", "application/json", 400, "the body is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested too deeply"),
        (b'{"name": "m"}', "text/plain", 415, "application/json"),
        (b'{"name": "' + b"x" * (1 << 20) + b'"}', "application/json", 413, "larger than"),
    ],
)
def test_bad_bodies_are_refused_naming_why(registry, body, content_type, status, reason) -> None:
    response = httpx.post(
        registry.url + "/api/v1/models",
        content=body,
        headers={
            "Authorization": f"Bearer {TOKENS['writer']}",
            "Content-Type": content_type,
            "Idempotency-Key": "k",
        },
    )
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]
    assert client(registry, "admin").dump()["events"] == 0


def test_a_write_without_an_idempotency_key_is_refused(registry) -> None:
    response = httpx.post(
        registry.url + "/api/v1/models",
        json={"name": "m"},
        headers={"Authorization": f"Bearer {TOKENS['writer']}"},
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]


def test_the_openapi_document_is_valid_and_lists_every_route(registry) -> None:
    from openapi_spec_validator import validate

    doc = httpx.get(registry.url + "/openapi.json").json()
    validate(doc)
    assert doc["paths"]["/api/v1/models/{model}/aliases/{alias}"]["put"]["x-scope"] == "write"
    assert "/api/v1/dump" in doc["paths"]


def test_it_creates_its_topics_on_a_fresh_prefix(start_service, kafka_settings, tmp_path) -> None:
    import uuid

    from watchkeeper import topic_admin

    fresh = f"t{uuid.uuid4().hex[:10]}."
    try:
        service = start_registry(start_service, fresh, tmp_path)
        assert client(service).create_model("fraud")["name"] == "fraud"
        assert client(service, "admin").dump()["events"] == 1
    finally:
        topic_admin.delete_prefixed(kafka_settings, fresh)
