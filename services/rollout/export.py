"""A model's split as the weights of a Gateway API ``HTTPRoute`` or an Istio
``VirtualService``, for teams that split traffic in the mesh rather than in the SDK.

Both want whole-number weights: they are rounded so that they still add up to 100
(largest remainder), and a variant at 0 % stays listed (blue-green keeps it warm).

>>> from watchkeeper.sdk._assignment import Split, Variant
>>> split = Split("fraud", (Variant("baseline", "3.1.0", 97.5), Variant("canary", "3.2.0", 2.5)))
>>> [(b["name"], b["weight"]) for b in http_route(split)["spec"]["rules"][0]["backendRefs"]]
[('fraud-3-1-0', 98), ('fraud-3-2-0', 2)]
>>> routes = virtual_service(split)["spec"]["http"][0]["route"]
>>> [(r["destination"]["subset"], r["weight"]) for r in routes]
[('baseline', 98), ('canary', 2)]
"""

from __future__ import annotations

import re
from typing import Any

from watchkeeper.sdk._assignment import Split

TEMPLATE = "{model}-{version}"


def whole_weights(weights: list[float]) -> list[int]:
    floors = [int(w) for w in weights]
    left = 100 - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (weights[i] - floors[i], -i), reverse=True)
    for i in order[:left]:
        floors[i] += 1
    return floors


def backend_name(template: str, model: str, version: str, variant: str) -> str:
    """A DNS-1035 label: lower case, dashes for anything else, at most 63 characters."""
    name = template.format(model=model, version=version, variant=variant).lower()
    name = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")
    return name[:63].rstrip("-") or "backend"


def http_route(
    split: Split,
    *,
    namespace: str = "default",
    gateway: str = "gateway",
    port: int = 80,
    template: str = TEMPLATE,
) -> dict[str, Any]:
    weights = whole_weights([v.weight for v in split.variants])
    refs = [
        {"name": backend_name(template, split.model, v.version, v.name), "port": port, "weight": w}
        for v, w in zip(split.variants, weights, strict=True)
    ]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": backend_name("{model}", split.model, "", ""),
            "namespace": namespace,
            "annotations": {
                "watchkeeper.io/rollout": split.rollout,
                "watchkeeper.io/routing-seq": str(split.seq),
            },
        },
        "spec": {"parentRefs": [{"name": gateway}], "rules": [{"backendRefs": refs}]},
    }


def virtual_service(
    split: Split, *, namespace: str = "default", host: str | None = None
) -> dict[str, Any]:
    host = host or backend_name("{model}", split.model, "", "")
    weights = whole_weights([v.weight for v in split.variants])
    route = [
        {
            "destination": {"host": host, "subset": backend_name("{variant}", "", "", v.name)},
            "weight": w,
            "headers": {"response": {"set": {"x-model-version": v.version}}},
        }
        for v, w in zip(split.variants, weights, strict=True)
    ]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": host,
            "namespace": namespace,
            "annotations": {
                "watchkeeper.io/rollout": split.rollout,
                "watchkeeper.io/routing-seq": str(split.seq),
            },
        },
        "spec": {"hosts": [host], "http": [{"route": route}]},
    }
