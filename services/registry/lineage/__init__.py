"""The registry's lineage: a graph of sources, jobs, datasets, model versions, aliases and
prediction streams, fed by OpenLineage events and by the registry's own facts.

No Kafka here: the service feeds these modules and serves their answers.

- ``ids``: node ids (Marquez style) and their types.
- ``graph``: the in-memory graph and its queries (upstream, downstream, lineage, impact).
- ``rate``: a stream's events per second over a sliding window, O(1) per observation.
- ``spec`` / ``openlineage``: OpenLineage events checked against the spec, and mapped onto
  the graph; ``emit``: the events the registry sends for its own actions.
- ``feed``: registry facts (a version registered, an alias moved, a stream seen) applied.

docs/registry-lineage.md has the node model and the mapping tables.
"""
