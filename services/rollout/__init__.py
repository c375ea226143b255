"""rollout: canary, blue-green, A/B and shadow decided on the streams (issue 13, being
built). What is here so far is the analysis, Kafka-free: always-valid sequential tests
(``sequential``), the canary step (``canary``), the per-request signals its checks read
(``signals``) and the sample-ratio-mismatch check (``srm``); the SDK's sticky
assignment is ``watchkeeper.sdk._assignment``."""
