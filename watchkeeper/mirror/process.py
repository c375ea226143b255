"""MirrorMaker 2 in dedicated mode as a supervised JVM, like ``LocalKafka``.

The jars come from Maven Central (``deploy/kafka/mirror/pom.xml``: ``connect-mirror`` of
the broker's Kafka version) into ``.cache/kafka/mirror-libs``, with the same digest marker
as the broker's. One JVM (``org.apache.kafka.connect.mirror.MirrorMaker``) replicates a
to b; its ``mm2.properties``, log and pid live in ``home``. ``up`` is idempotent (a
running mirror of this home is kept), ``down`` sends SIGTERM and SIGKILL after a deadline,
``kill`` sends SIGKILL at once (a crash, for the drills). MM2 listens on no port: in
dedicated mode without ``dedicated.mode.enable.internal.rest`` it has no REST server.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .._paths import REPO_ROOT, cache_dir
from .._pidfile import PidFileProcess
from ..local_kafka import LocalKafka, LocalKafkaError, ensure_jars, java_binary
from .properties import mm2_properties

MIRROR_POM = REPO_ROOT / "deploy" / "kafka" / "mirror" / "pom.xml"
MIRROR_LOG4J = REPO_ROOT / "deploy" / "kafka" / "mirror" / "log4j2.properties"
MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"
# What WorkerSourceTask logs once the replicating task polls the source: "ready".
READY_LINE = "MirrorSourceConnector-0} Source task finished initialization and start"


def mirror_libs_dir() -> Path:
    return cache_dir() / "kafka" / "mirror-libs"


def ensure_mirror_jars(quiet: bool = False) -> Path:
    """Fetch MirrorMaker 2's jars once (again only when its pom changes)."""
    return ensure_jars(quiet, pom=MIRROR_POM, target=mirror_libs_dir(), what="MirrorMaker 2")


@dataclass
class Mirror(PidFileProcess):
    """MirrorMaker 2 copying ``prefix``'s topics and consumer groups from ``source``
    (alias a) to ``target`` (alias b); its files live under ``home``."""

    source: str
    target: str
    home: Path
    prefix: str = "wk."
    heap: str = "512m"
    groups: str = ".*"

    @classmethod
    def local(cls, prefix: str = "wk.") -> Mirror:
        """Between the local clusters a (``LocalKafka.from_env()``) and b."""
        from ..settings import env_str
        from .clusters import cluster_b_from_env

        return cls(
            source=LocalKafka.from_env().bootstrap,
            target=cluster_b_from_env().bootstrap,
            home=Path(env_str("WK_MIRROR_HOME") or cache_dir() / "kafka" / "mirror"),
            prefix=prefix,
        )

    @property
    def pid_file(self) -> Path:
        return self.home / "mirror.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "mirror.log"

    @property
    def config_file(self) -> Path:
        return self.home / "mm2.properties"

    def marks(self) -> tuple[bytes, ...]:
        return MAIN_CLASS.encode(), str(self.config_file).encode()

    def log_paths(self) -> tuple[Path, ...]:
        return self.log_file, self.home / "mirror.out"

    def up(self, timeout: float = 180.0) -> int:
        """Start MirrorMaker unless it runs; wait until its replicating task has started.
        Returns the pid. A running one keeps its old configuration (``down`` first to
        change the clusters or the prefix)."""
        pid = self.running_pid()
        if pid is not None:
            return pid
        java = java_binary()
        ensure_mirror_jars(quiet=True)
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(mm2_properties(self.source, self.target, self.prefix,
                                                   groups=self.groups))  # fmt: skip
        seen = self.log_file.stat().st_size if self.log_file.exists() else 0
        out = open(self.home / "mirror.out", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [
                java,
                f"-Xmx{self.heap}",
                f"-Xms{self.heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={MIRROR_LOG4J}",
                f"-Dkafka.logs.dir={self.home / 'logs'}",
                "-cp",
                str(mirror_libs_dir() / "*"),
                MAIN_CLASS,
                str(self.config_file),
                # Only the herder that writes to b: none for the disabled b->a direction.
                "--clusters",
                "b",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.home,
        )
        out.close()
        self.pid_file.write_text(f"{process.pid}\n")
        self._wait_ready(process, seen, timeout)
        return process.pid

    def _wait_ready(self, process: subprocess.Popen, seen: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise LocalKafkaError(
                    f"MirrorMaker exited with code {process.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            if READY_LINE in self._log_since(seen):
                return
            time.sleep(0.2)
        self.down()
        raise LocalKafkaError(
            f"MirrorMaker's task did not start within {timeout:.0f} s (are both clusters "
            f"up? {self.source} -> {self.target}):\n{self.log_tail()}"
        )

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_file.open("rb") as f:
                if f.seek(0, os.SEEK_END) < offset:  # rolled over: read all of the new one
                    offset = 0
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""
