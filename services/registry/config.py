"""registry settings: the environment (``WK_REGISTRY_*``) and the policy file
(``WK_REGISTRY_POLICY``, default ``deploy/registry.yaml``) saying which aliases are gated
and how a candidate must compare with the version an alias holds.

>>> policy = load_policy_text('''
... defaults: {gated_aliases: [champion], compare: {auc: higher}}
... models:
...   latency-bot: {compare: {p99_ms: lower, auc: higher}}
... ''')
>>> policy.for_model("fraud").compare, policy.for_model("latency-bot").compare
({'auc': 'higher'}, {'p99_ms': 'lower', 'auc': 'higher'})
>>> load_policy_text("defaults: {compare: {auc: up}}")
Traceback (most recent call last):
...
watchkeeper.yamlconf.ConfigFileError: <string>:1: compare.auc must be higher or lower, not 'up'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchkeeper._paths import REPO_ROOT
from watchkeeper.auth import TokenTable
from watchkeeper.kit import permodel
from watchkeeper.settings import ServiceSettings, env_int, env_str, secret
from watchkeeper.yamlconf import Mapping, load_file, load_text

NAME = "registry"
DEFAULT_HTTP_PORT = 8108
DEFAULT_POLICY = REPO_ROOT / "deploy" / "registry.yaml"


@dataclass(frozen=True)
class AliasPolicy:
    """Moving a gated alias needs a passing validation and, for each metric in
    ``compare``, a value no worse than the version the alias holds now."""

    gated_aliases: frozenset[str] = frozenset({"champion"})
    require_validation: bool = True
    compare: dict[str, str] = field(default_factory=dict)  # metric -> higher | lower


def _parse(doc: Mapping, base: AliasPolicy) -> AliasPolicy:
    unknown = sorted(set(doc) - {"gated_aliases", "require_validation", "compare"})
    if unknown:
        raise doc.error(unknown[0], f"unknown key {unknown[0]!r}")
    gated, require, compare = base.gated_aliases, base.require_validation, dict(base.compare)
    if "gated_aliases" in doc:
        value = doc["gated_aliases"]
        if not isinstance(value, list) or not all(isinstance(a, str) and a for a in value):
            raise doc.error("gated_aliases", "gated_aliases must be a list of alias names")
        gated = frozenset(value)
    if "require_validation" in doc:
        if not isinstance(doc["require_validation"], bool):
            raise doc.error("require_validation", "require_validation must be true or false")
        require = doc["require_validation"]
    if "compare" in doc:
        given = doc["compare"]
        if not isinstance(given, Mapping):
            raise doc.error("compare", "compare must map metric names to higher or lower")
        compare = {}
        for metric, direction in given.items():
            if direction not in ("higher", "lower"):
                raise given.error(
                    metric, f"compare.{metric} must be higher or lower, not {direction!r}"
                )
            compare[str(metric)] = direction
    return AliasPolicy(gated, require, compare)


def load_policy_text(text: str, source: str = "<string>") -> permodel.PerModel[AliasPolicy]:
    return permodel.load(load_text(text, source), source, _parse, AliasPolicy())


def load_policy(path: str) -> permodel.PerModel[AliasPolicy]:
    return permodel.load(load_file(path), str(path), _parse, AliasPolicy())


@dataclass(frozen=True)
class RegistryConfig:
    service: ServiceSettings
    policy_path: str
    policy: permodel.PerModel[AliasPolicy]
    tokens: TokenTable
    max_body: int
    batch_max: int = 500

    @classmethod
    def from_env(cls) -> RegistryConfig:
        path = env_str("WK_REGISTRY_POLICY") or str(DEFAULT_POLICY)
        tokens = secret("WK_REGISTRY_API_TOKENS") or ""
        return cls(
            service=ServiceSettings.from_env(NAME, DEFAULT_HTTP_PORT),
            policy_path=path,
            policy=load_policy(path),
            tokens=TokenTable.parse(tokens, "WK_REGISTRY_API_TOKENS"),
            max_body=env_int("WK_REGISTRY_MAX_BODY_BYTES", 1 << 20),
            batch_max=max(1, env_int("WK_REGISTRY_BATCH_MAX", 500)),
        )
