"""Reading the cold and archive tiers back: ``watchkeeper replay`` into a topic,
``watchkeeper query`` with DuckDB, and ``watchkeeper dataset cut`` into a registered file.

One module per concept: :mod:`.times` (the command line's times), :mod:`.selection` (which
parts, which rows), :mod:`.checkpoint` (a replay's identity and progress, no Kafka),
:mod:`.replay` (the transactional producer), :mod:`.query` (the DuckDB views),
:mod:`.cut` (a dataset cut and its lineage), :mod:`.commands` (the argparse side).
"""
