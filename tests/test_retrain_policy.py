"""The retrain policy file (services/retrain/policy): defaults, overrides, and a clear
file:line error for each mistake."""

import pytest

from services.retrain.policy import (
    RetrainPolicy,
    WebhookLauncher,
    load_policy,
    load_policy_text,
    validate_request,
)
from watchkeeper._paths import REPO_ROOT
from watchkeeper.gates.validate import validate
from watchkeeper.yamlconf import ConfigFileError

LOCAL = "launcher: {kind: local, command: [python, train.py]}"


def test_shipped_example_loads():
    policy = load_policy(str(REPO_ROOT / "deploy" / "retrain.yaml"))
    assert sorted(policy.models) == ["churn", "fraud"]
    assert not policy.defaults.retrains
    fraud, churn = policy.for_model("fraud"), policy.for_model("churn")
    assert fraud.triggers.schedule.timezone == "Europe/Paris"
    assert fraud.triggers.new_data.min_new_rows == 10000
    assert fraud.launcher.timeout_s == 1800.0 and fraud.approval.mode == "auto"
    assert isinstance(churn.launcher, WebhookLauncher) and churn.launcher.dag_id == "train_churn"
    assert churn.approval.approvers == ("alice", "bob") and churn.triggers.drift is False
    assert churn.rollout["steps"] == [5, 25, 50, 100]


def test_built_in_defaults():
    p = RetrainPolicy()
    assert (p.debounce_s, p.cooldown_s, p.max_in_flight) == (300.0, 3600.0, 1)
    assert (p.triggers.drift, p.triggers.performance, p.triggers.manual) == (True, True, True)
    assert p.triggers.schedule is None and p.launcher is None and p.validation is None
    assert (p.approval.mode, p.approval.expiry_s) == ("manual", 86400.0)
    assert p.rollout == {"strategy": "canary", "steps": [10, 50, 100]}


def test_overrides_merge_triggers_and_replace_launchers():
    policy = load_policy_text(f"""
defaults:
  {LOCAL}
  triggers: {{new_data: {{dataset: tx, min_new_rows: 5}}}}
  approval: {{expiry_s: 2h}}
models:
  a:
    triggers: {{drift: false}}
    approval: {{approvers: carol}}
    launcher: {{kind: webhook, template: kubeflow, url: "http://127.0.0.1:8888", pipeline_id: p1}}
""")
    a = policy.for_model("a")
    assert a.triggers.drift is False and a.triggers.new_data.dataset == "tx"
    assert a.approval.expiry_s == 7200.0 and a.approval.approvers == ("carol",)
    assert a.launcher.template == "kubeflow" and a.launcher.pipeline_id == "p1"
    assert policy.for_model("other").launcher.command == ("python", "train.py")


def test_webhook_templates_fill_their_defaults():
    gh = load_policy_text("""
defaults:
  launcher: {kind: webhook, template: github, repo: acme/fraud, workflow: train.yml,
             token_file: /run/secrets/gh}
""").defaults.launcher
    assert (gh.url, gh.ref, gh.timeout_s) == ("https://api.github.com", "main", 3600.0)
    generic = load_policy_text("""
defaults:
  launcher:
    kind: webhook
    template: generic
    url: http://127.0.0.1:9000/hooks/train
    body: {model: "{model}", why: ["{reasons}"], literal: "{{x}}"}
""").defaults.launcher
    assert generic.body == {"model": "{model}", "why": ["{reasons}"], "literal": "{{x}}"}


def test_bluegreen_rollout_is_accepted_without_steps():
    p = load_policy_text("defaults: {rollout: {strategy: bluegreen, keep_ready_s: 600}}")
    assert p.defaults.rollout == {"strategy": "bluegreen", "keep_ready_s": 600}


def test_validation_mapping_is_what_gate_validate_runs(tmp_path):
    rows = ["label,score,score_new"]
    for i in range(40):
        label = i % 2
        rows.append(f"{label},{0.4 + 0.2 * label if i % 4 else 0.5},{0.1 + 0.8 * label}")
    (tmp_path / "fraud.csv").write_text("\n".join(rows) + "\n")
    spec = load_policy_text(f"""
defaults:
  validation:
    holdout: {tmp_path}/{{model}}.csv
    candidate_scores: score_new
    champion_scores: score
    thresholds: {{min: {{auc: 0.8}}, min_delta: {{auc: 0.0}}}}
""").defaults.validation
    result = validate(validate_request(spec, "fraud", "3.3", "3.2"))
    assert result.passed
    assert result.metrics["auc"] == 1.0 and result.metrics["holdout_rows"] == 40.0


BAD = [
    ("defaults: {retries: 3}", 1, "unknown key 'retries'"),
    ("defaults: {max_in_flight: 2}", 1, "max_in_flight is always 1"),
    ("defaults:\n  debounce_s: soon", 2, "debounce_s: not a duration"),
    ("defaults:\n  cooldown_s: -1", 2, "cooldown_s must be at least 0"),
    ("defaults: {backoff_s: 1h, backoff_max_s: 10m}", 1, "backoff_max_s (600) is below"),
    ("defaults:\n  triggers:\n    drift: yes please", 3, "triggers.drift must be true or false"),
    ("defaults:\n  triggers: {sched: {}}", 2, "triggers: unknown key 'sched'"),
    (
        "defaults:\n  triggers:\n    schedule:\n      cron: '0 3 * * 1'\n      timezone: Mars",
        5,
        "unknown time zone 'Mars'",
    ),
    ("defaults:\n  triggers:\n    schedule:\n      cron: '0 25 * * *'", 4, "not a valid"),
    ("defaults:\n  triggers:\n    schedule: {timezone: UTC}", 3, "needs cron"),
    (
        "defaults:\n  triggers:\n    new_data:\n      dataset: tx\n      min_new_rows: 0",
        5,
        "min_new_rows must be a whole number",
    ),
    ("defaults:\n  launcher: {kind: ssh}", 2, "launcher.kind must be local or webhook"),
    ("defaults:\n  launcher:\n    kind: local\n    command: []", 4, "non-empty list"),
    ("defaults:\n  launcher:\n    kind: local\n    command: [x]\n    timeout_s: 0", 5, "above 0"),
    (
        "defaults:\n  launcher: {kind: webhook, template: airflow, url: 'http://a'}",
        2,
        "launcher (airflow): needs dag_id",
    ),
    (
        "defaults:\n  launcher: {kind: webhook, template: jenkins, url: 'http://a'}",
        2,
        "launcher.template must be one of airflow, github, kubeflow, generic",
    ),
    (
        "defaults:\n  launcher:\n    kind: webhook\n    template: airflow\n"
        "    url: 'http://a'\n    dag_id: d\n    repo: x/y",
        7,
        "launcher (airflow): unknown key 'repo'",
    ),
    (
        "defaults:\n  launcher: {kind: webhook, template: kubeflow, url: 'ftp://a', "
        "pipeline_id: p}",
        2,
        "launcher.url must start with http://",
    ),
    (
        "defaults:\n  launcher:\n    kind: webhook\n    template: github\n    repo: fraud\n"
        "    workflow: t.yml\n    token_file: /t",
        5,
        "launcher.repo must be owner/name",
    ),
    (
        "defaults:\n  launcher:\n    kind: webhook\n    template: generic\n    url: 'http://a'\n"
        "    body:\n      run: '{run}'",
        7,
        "unknown placeholder {run}",
    ),
    ("defaults:\n  validation: {candidate_scores: s}", 2, "validation needs holdout"),
    (
        "defaults:\n  validation: {holdout: h.csv, thresholds: {min: {auc: 0.8}}}",
        2,
        "validation needs candidate_scores",
    ),
    (
        "defaults:\n  validation:\n    holdout: h.csv\n    candidate_scores: s\n"
        "    thresholds:\n      min: {roc: 0.8}",
        6,
        "unknown metric 'roc'",
    ),
    (
        "defaults:\n  validation:\n    holdout: h.csv\n    candidate_scores: s\n"
        "    thresholds:\n      above: {auc: 0.8}",
        6,
        "unknown bound 'above'",
    ),
    (
        "defaults:\n  validation:\n    holdout: h.csv\n    candidate_scores: s\n"
        "    thresholds: {min_delta: {auc: 0}}",
        5,
        "compares with the champion",
    ),
    (
        "defaults:\n  validation:\n    holdout: h.csv\n    candidate_scores: s",
        3,
        "nothing to check",
    ),
    (
        "defaults:\n  validation:\n    holdout: h.csv\n    candidate_scores: s\n"
        "    max_gaps: {tpr: 0.1}",
        5,
        "fairness bounds need sensitive",
    ),
    (
        "defaults:\n  validation:\n    holdout: '{day}.csv'\n    candidate_scores: s\n"
        "    quality_gate: g",
        3,
        "unknown placeholder {day}",
    ),
    ("defaults:\n  validation: {skip: true, holdout: h.csv}", 2, "skip: true takes no other"),
    ("defaults:\n  approval: {mode: sometimes}", 2, "approval.mode must be auto or manual"),
    ("defaults:\n  approval:\n    margin: {roc: 0.1}", 3, "approval.margin: unknown metric"),
    ("defaults:\n  approval: {mode: auto}", 2, "approval.mode auto needs a validation"),
    ("defaults:\n  rollout:\n    steps: [50, 20]", 3, "rollout: steps must rise: 20 after 50"),
    ("defaults:\n  rollout:\n    candidate: '2'", 3, "candidate is set by the run"),
    ("defaults:\n  rollout:\n    strategy: ab", 3, "rollout.strategy must be canary or bluegreen"),
    (
        "defaults:\n  rollout:\n    checks:\n      - metric: clicks\n        margin: 0.1",
        3,
        "a check on a metric nobody emits: 'clicks'",
    ),
    (
        "defaults:\n  rollout:\n    analysis:\n      alpha: 0.9",
        4,
        "rollout.analysis.alpha: 0.9 is greater than the maximum of 0.5",
    ),
    ("defaults:\n  rollout:\n    stepz: [10]", 3, "Additional properties"),
    ("defaults:\n  triggers: {manual: true}", 2, "defaults enable triggers but set no launcher"),
    ("models:\n  fraud: {debounce_s: 60}", 2, "model fraud: triggers are on but no launcher"),
]


@pytest.mark.parametrize(("text", "line", "reason"), BAD)
def test_bad_policy_names_file_line_and_reason(text, line, reason):
    with pytest.raises(ConfigFileError) as caught:
        load_policy_text(text, "retrain.yaml")
    assert caught.value.line == line, str(caught.value)
    assert reason in caught.value.reason, str(caught.value)
    assert str(caught.value).startswith(f"retrain.yaml:{line}: ")


def test_a_model_with_its_triggers_off_needs_no_launcher():
    text = "models:\n  quiet: {triggers: {drift: false, performance: false, manual: false}}"
    assert not load_policy_text(text).for_model("quiet").retrains


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_policy(str(tmp_path / "missing.yaml"))
