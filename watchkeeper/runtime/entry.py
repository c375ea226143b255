"""The command line of every service, and ``run(spec)``.

``python -m services.<name>`` and ``watchkeeper serve <name>`` both end here:

* ``--help`` prints what the service reads, writes and is configured by, and exits 0
  without touching the network; ``--version`` likewise;
* ``--check-config FILE`` validates a configuration file as ``promtool check`` does:
  exit 0, or exit 2 with ``file:line: reason``;
* otherwise the configuration is read from the environment (and the file it names): a
  bad value exits 2 naming the variable, a bad file exits 2 with ``file:line``, before
  anything starts; then the engine runs the service until SIGTERM.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from importlib import metadata

from .. import clusters
from ..kit.spec import ServiceSpec, Setting
from ..settings import ConfigError, env_str
from ..yamlconf import ConfigFileError
from . import logs

EXIT_CONFIG = 2
# What `watchkeeper[services]` adds to the SDK's install (pyproject.toml).
SERVICES_EXTRA = {
    "faust",
    "mode",
    "aiokafka",
    "cramjam",
    "river",
    "aiohttp",
    "jsonschema",
    "orjson",
    "yaml",
    "scipy",
    "pyarrow",
}

COMMON = (
    Setting("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "the cluster"),
    Setting("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "and KAFKA_SASL_*, KAFKA_SSL_*"),
    Setting("WK_TOPIC_PREFIX", "wk.", "prefix of every topic"),
    Setting("WK_CONSUMER_GROUP", "<prefix><service>", "the consumer group"),
    Setting("WK_HTTP_HOST", "127.0.0.1", "where /metrics, /healthz and the routes listen"),
    Setting("WK_HTTP_PORT", "per service", "their port"),
    Setting("WK_INSTANCE_ID", "the host name", "stable id: transactions, static membership"),
    Setting("WK_LOG_LEVEL", "INFO", "JSON logs on stderr"),
    Setting("WK_ENGINE", "the spec's", "batch or faust: the same tasks on the other engine"),
    Setting("WK_KAFKA_CLUSTERS", "KAFKA_BOOTSTRAP_SERVERS", "clusters to fail over to, `;`"),
    Setting("WK_FAILOVER_AFTER_S", "10", "unreachable this long: move to the next cluster"),
)


def version() -> str:
    try:
        return metadata.version("watchkeeper")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


def _settings_text(settings: tuple[Setting, ...] | list[Setting]) -> str:
    width = max(len(s.name) for s in settings)
    return "\n".join(f"  {s.name:<{width}}  {s.doc} (default: {s.default})" for s in settings)


def parser(spec: ServiceSpec, prog: str | None = None) -> argparse.ArgumentParser:
    own = list(spec.settings)
    if spec.config_file is not None:
        own.insert(0, spec.config_file)
    epilog = [
        f"engine: {spec.engine}",
        f"reads:  {', '.join(spec.inputs) or '-'}",
        f"writes: {', '.join(spec.outputs) or '-'}",
    ]
    if own:
        epilog += ["", f"{spec.name} settings:", _settings_text(own)]
    epilog += ["", "every service:", _settings_text(COMMON)]
    if spec.doc:
        epilog += ["", f"more: {spec.doc}"]
    result = argparse.ArgumentParser(
        prog=prog or f"python -m services.{spec.name}",
        description=f"watchkeeper {spec.name}: {spec.summary}",
        epilog="\n".join(epilog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    result.add_argument(
        "--version", action="version", version=f"watchkeeper {spec.name} {version()}"
    )
    result.add_argument(
        "--check-config",
        metavar="FILE",
        help="validate a configuration file and exit (0: valid; 2: file:line: reason)",
    )
    return result


def main(spec: ServiceSpec, argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parser(spec, prog).parse_args(argv)
    if args.check_config is not None:
        return check_config(spec, args.check_config)
    return run(spec)


def check_config(spec: ServiceSpec, path: str) -> int:
    if spec.check_file is None:
        print(f"{spec.name} takes no configuration file", file=sys.stderr)
        return EXIT_CONFIG
    try:
        spec.check_file(path)
    except (ConfigFileError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: ok")
    return 0


def config_error(spec: ServiceSpec, exc: ConfigFileError | ConfigError) -> int:
    """Say what is wrong in the service's JSON log on stderr (with the file and line as
    fields, for whoever parses it) and give the exit code."""
    logs.configure(spec.name)
    extra = {"exit_code": EXIT_CONFIG}
    if isinstance(exc, ConfigFileError):
        extra |= {"file": exc.path, "line": exc.line, "reason": exc.reason}
    logging.getLogger(f"services.{spec.name}").error(f"bad configuration: {exc}", extra=extra)
    return EXIT_CONFIG


def load_config(spec: ServiceSpec):
    """The service's configuration, or the exit code after saying what is wrong."""
    try:
        return spec.config()
    except (ConfigFileError, ConfigError) as exc:
        return config_error(spec, exc)


def engine_of(spec: ServiceSpec) -> str:
    """The spec's engine, or ``WK_ENGINE``: both engines run the same tasks, so a service
    on one can be run on the other (not one that runs its own loop)."""
    wanted = env_str("WK_ENGINE")
    if wanted is None or wanted == spec.engine:
        return spec.engine
    if wanted not in ("batch", "faust"):
        raise ConfigError(f"WK_ENGINE must be batch or faust, got {wanted!r}")
    if spec.engine == "own":
        raise ConfigError(f"WK_ENGINE: {spec.name} runs its own loop, not tasks an engine can run")
    return wanted


def run(spec: ServiceSpec) -> int:
    """Run ``spec`` until SIGTERM; return the exit code (2 for bad configuration)."""
    try:
        return _run(spec)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVICES_EXTRA:
            raise  # a bug of ours, not a missing extra: keep its traceback
        # The SDK-only install lacks the services' libraries: say which extra brings them.
        print(
            f"{spec.name}: {exc}; the services need `pip install 'watchkeeper[services]'`",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        # Another process holds a port this one was told to listen on: a deployment
        # error to name, not a bug to trace back.
        logging.getLogger(spec.name).error(
            "cannot listen: address already in use", extra={"error": str(exc)}
        )
        return 1


def _run(spec: ServiceSpec) -> int:
    try:
        engine = engine_of(spec)
        follower = None
        if clusters.configured():
            # Several clusters: join the one the services run on, before reading the
            # settings. (A Kafka client: loaded only then, not for a bad setting.)
            from . import follow

            follower = follow.follower(spec.name)
    except ConfigError as exc:
        return config_error(spec, exc)
    config = load_config(spec)
    if config is EXIT_CONFIG:
        return EXIT_CONFIG
    if engine == "own":
        assert spec.serve is not None
        if follower is not None:
            follower.start()
        return spec.serve(config)
    from ..codec import Codec

    codec = Codec()
    assert spec.build is not None
    try:
        parts = spec.build(config, codec)
    except (ConfigFileError, ConfigError) as exc:
        return config_error(spec, exc)
    settings = config.service
    if follower is not None:  # a Beside: started with the others, and in /healthz
        parts.beside = [*parts.beside, follower]
    if engine == "faust":
        from .service import TaskService

        return TaskService(spec, settings, parts, codec).run()
    from .batch import BatchService

    return BatchService(
        settings,
        spec.input_schemas(),
        parts.tasks,
        state_topic=spec.state_topic,
        codec=codec,
        beside=parts.beside,
        routes=parts.routes,
    ).run()
