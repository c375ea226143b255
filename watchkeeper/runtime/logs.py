"""Structured JSON logs, one object per line, the same fields in every service.

>>> import logging, io, json
>>> stream = io.StringIO()
>>> handler = logging.StreamHandler(stream)
>>> handler.setFormatter(JsonFormatter(service="counter"))
>>> logger = logging.getLogger("doctest.logs")
>>> logger.addHandler(handler); logger.propagate = False
>>> logger.warning("bad input", extra={"topic": "wk.predictions", "offset": 7})
>>> line = json.loads(stream.getvalue())
>>> line["level"], line["service"], line["msg"], line["topic"], line["offset"]
('warning', 'counter', 'bad input', 'wk.predictions', 7)
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

# Attributes every LogRecord has; anything else came in through ``extra=`` and is logged.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "watchkeeper") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(service: str, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: JSON lines on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "watchkeeper.runtime.logs.JsonFormatter", "service": service}
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        # Faust and aiokafka are chatty at INFO about every rebalance step.
        "loggers": {
            "aiokafka": {"level": "WARNING"},
            "faust": {"level": "WARNING"},
            "mode": {"level": "WARNING"},
        },
    }


def configure(service: str, level: str = "INFO") -> None:
    import logging.config

    logging.config.dictConfig(logging_config(service, level))
