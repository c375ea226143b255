"""Defaults and per-model overrides, the one shape every service's YAML file has.

```yaml
defaults: {window: 5m}
models:
  fraud: {window: 1m}
```

``parse(mapping, base)`` turns one mapping into settings, starting from ``base``
(the built-in defaults for ``defaults``, the parsed defaults for each model) and raising
``ConfigFileError`` with the line of the offending key.

>>> from watchkeeper.yamlconf import load_text
>>> def parse(doc, base):
...     return {**base, **doc}
>>> found = load(load_text("defaults: {a: 1}\\nmodels:\\n  m: {b: 2}\\n", "x.yaml"), "x.yaml",
...              parse, {"a": 0})
>>> found.defaults, found.models
({'a': 1}, {'m': {'a': 1, 'b': 2}})
>>> load(load_text("models: [fraud]\\n", "x.yaml"), "x.yaml", parse, {})
Traceback (most recent call last):
...
watchkeeper.yamlconf.ConfigFileError: x.yaml:1: models must map model names to settings
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..yamlconf import ConfigFileError, Mapping

S = TypeVar("S")


@dataclass(frozen=True)
class PerModel(Generic[S]):
    defaults: S
    models: dict[str, S] = field(default_factory=dict)

    def for_model(self, model: str) -> S:
        return self.models.get(model, self.defaults)


def load(
    doc: Any,
    source: str,
    parse: Callable[[Mapping, S], S],
    base: S,
    extra_keys: Iterable[str] = (),
) -> PerModel[S]:
    """``doc`` is a loaded file (``yamlconf.load_file``); ``extra_keys`` are top-level keys
    the caller reads itself."""
    allowed = {"defaults", "models", *extra_keys}
    if not isinstance(doc, Mapping):
        raise ConfigFileError(source, None, "the file must be a mapping (defaults, models)")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed))
        raise doc.error(unknown[0], f"unknown key {unknown[0]!r} (expected {expected})")
    given_defaults = doc.get("defaults")
    if given_defaults is None:
        given_defaults = Mapping()
    if not isinstance(given_defaults, Mapping):
        raise doc.error("defaults", "defaults must be a mapping of settings")
    defaults = parse(given_defaults, base)
    given = doc.get("models")
    if given is None:
        given = Mapping()
    if not isinstance(given, Mapping):
        raise doc.error("models", "models must map model names to settings")
    models: dict[str, S] = {}
    for model, overrides in given.items():
        if not isinstance(overrides, Mapping):
            raise given.error(model, f"settings of model {model} must be a mapping")
        models[str(model)] = parse(overrides, defaults)
    return PerModel(defaults, models)
