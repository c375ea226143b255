"""A real single-node Kafka (KRaft) for development, tests and the demo, without Docker.

The broker comes from Maven Central (``deploy/kafka/pom.xml``), runs as one JVM that is
both broker and controller, listens on 127.0.0.1 only, and keeps its data, logs and pid
in one folder. ``up`` is idempotent; ``down`` stops it cleanly (SIGTERM, then SIGKILL
after a deadline). When ``KAFKA_BOOTSTRAP_SERVERS`` is set, nothing is started.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ._paths import REPO_ROOT, cache_dir
from ._pidfile import PidFileProcess
from .settings import env_int, env_str

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J_CONFIG = REPO_ROOT / "deploy" / "kafka" / "log4j2.properties"
SERVER_TEMPLATE = REPO_ROOT / "deploy" / "kafka" / "server.properties"
CLUSTER_TEMPLATE = REPO_ROOT / "deploy" / "kafka" / "cluster.properties"


class LocalKafkaError(RuntimeError):
    """The local broker cannot be fetched, started or reached; the message says what to do."""


def libs_dir() -> Path:
    return cache_dir() / "kafka" / "libs"


def _require(tool: str, sentence: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LocalKafkaError(sentence)
    return path


def _java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_binary() -> str:
    home = env_str("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else None
    if not java or not Path(java).exists():
        java = _require(
            "java",
            "Kafka needs Java 17 or newer: install a JDK (for example `apt-get install "
            "openjdk-17-jdk-headless`), or set KAFKA_BOOTSTRAP_SERVERS to use another cluster.",
        )
    if _java_major(java) < 17:
        raise LocalKafkaError(
            f"{java} is older than Java 17, which Kafka 4 needs: install Java 17+ "
            "or point JAVA_HOME at one."
        )
    return java


def ensure_jars(
    quiet: bool = False, pom: Path = POM, target: Path | None = None, what: str = "Kafka"
) -> Path:
    """Fetch the broker's jars into the cache once (again only when the pom changes).
    ``pom``/``target``/``what``: another project of jars the same way (MirrorMaker 2)."""
    target = target or libs_dir()
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    marker = target / ".complete"
    if marker.exists() and marker.read_text().strip() == digest:
        return target
    mvn = _require(
        "mvn",
        "Fetching Kafka needs Maven: install it (for example `apt-get install maven`), "
        "or set KAFKA_BOOTSTRAP_SERVERS to use another cluster.",
    )
    java_binary()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=target.parent))
    if not quiet:
        print(f"fetching {what} jars from Maven Central into {target} ...", flush=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LocalKafkaError(f"mvn could not fetch the {what} jars:\n{tail}")
    (staging / ".complete").write_text(digest + "\n")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # Like Kafka's own listener: connections of a stopped broker in TIME_WAIT are fine.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes in URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class LocalKafka(PidFileProcess):
    """One broker+controller JVM whose files all live under ``home``: on its own, or one
    node of a :class:`~watchkeeper.local_cluster.LocalCluster` (``node_id``, ``voters``,
    ``cluster_id`` and the cluster's ``template``)."""

    home: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    node_id: int = 1
    voters: str = ""  # controller.quorum.voters; empty: this node alone
    cluster_id: str = ""  # empty: a fresh one at the first format
    template: Path = SERVER_TEMPLATE

    @classmethod
    def from_env(cls) -> LocalKafka:
        return cls(
            home=Path(env_str("WK_KAFKA_HOME") or cache_dir() / "kafka" / "node"),
            port=env_int("WK_KAFKA_PORT", 9092),
            controller_port=env_int("WK_KAFKA_CONTROLLER_PORT", 9093),
            heap=env_str("WK_KAFKA_HEAP", "512m") or "512m",
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    def marks(self) -> tuple[bytes, ...]:
        return b"kafka.Kafka", str(self.home).encode()

    def log_paths(self) -> tuple[Path, ...]:
        return self.log_file, self.home / "kafka.out"

    def _write_config(self) -> Path:
        config = self.template.read_text().format(
            port=self.port,
            controller_port=self.controller_port,
            data_dir=self.data_dir,
            node_id=self.node_id,
            voters=self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}",
        )
        path = self.home / "server.properties"
        path.write_text(config)
        return path

    def _format_storage(self, java: str, config: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cid = self.cluster_id or new_cluster_id()
        result = subprocess.run(
            [
                java,
                *self._jvm_flags(),
                "kafka.tools.StorageTool",
                "format",
                # One id in 64 starts with "-": as a separate argument it reads as an option.
                f"--cluster-id={cid}",
                "-c",
                str(config),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalKafkaError(f"formatting {self.data_dir} failed:\n{result.stderr[-2000:]}")

    def _jvm_flags(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp",
            str(libs_dir() / "*"),
        ]

    def reachable(self, timeout: float = 3.0) -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(
            {
                "bootstrap.servers": self.bootstrap,
                "security.protocol": "plaintext",
                "socket.connection.setup.timeout.ms": 2000,
                # Refused connections are expected while the broker boots: keep stderr clean.
                "log_level": 0,
            }
        )
        try:
            admin.list_topics(timeout=timeout)
            return True
        except Exception:
            return False

    def up(self, timeout: float = 120.0) -> str:
        """Start the broker unless it already runs; return the bootstrap address."""
        if self.running_pid() is not None and self.reachable():
            return self.bootstrap
        process = self.launch()
        self.wait_ready(process, timeout)
        return self.bootstrap

    def launch(self) -> subprocess.Popen:
        """Start the JVM (formatting the data folder the first time) and return at once:
        the nodes of a cluster must all be running before any of them answers."""
        self.down()
        java = java_binary()
        ensure_jars(quiet=True)
        for port in (self.port, self.controller_port):
            if not port_is_free(port):
                raise LocalKafkaError(
                    f"port {port} on 127.0.0.1 is taken by another program: stop it, or choose "
                    "others with WK_KAFKA_PORT / WK_KAFKA_CONTROLLER_PORT"
                )
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        self._format_storage(java, config)
        out = open(self.home / "kafka.out", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [
                java,
                f"-Xmx{self.heap}",
                f"-Xms{self.heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                *self._jvm_flags(),
                "kafka.Kafka",
                str(config),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.home,
        )
        out.close()
        self.pid_file.write_text(f"{process.pid}\n")
        return process

    def wait_ready(self, process: subprocess.Popen, timeout: float = 120.0) -> None:
        """Wait until the broker started by :meth:`launch` answers metadata requests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise LocalKafkaError(
                    f"Kafka exited with code {process.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            if self.reachable(timeout=2.0):
                return
            time.sleep(0.3)
        self.down()
        raise LocalKafkaError(f"Kafka did not answer within {timeout:.0f} s:\n{self.log_tail()}")
