"""replication: how far cluster b (MirrorMaker 2's target) is behind cluster a, per topic
and partition, as metrics and as ``ReplicationLagging`` / ``ReplicationDown`` alerts.

Runs its own loop (``engine="own"``): each poll asks both clusters (``watchkeeper.mirror
.probe``), hands the lags to ``watch.ReplicationWatch`` (no Kafka: when to fire and
resolve) and publishes the alerts it returns on a's ``alerts`` topic.
"""
