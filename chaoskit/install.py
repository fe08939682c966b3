"""Fetches the pinned components into a cache, idempotently.

Kafka is assembled from Maven Central (the broker jar and its runtime dependencies, copied
by Maven's dependency plugin from a generated pom), Toxiproxy is built with ``go install``
from its Go module at a pinned tag, Redis comes from Debian's ``redis-server``. A component
is only marked installed once complete (a ``.complete`` stamp written last), so an
interrupted install is redone, and a second run with everything cached does nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaoskit.errors import ChaoskitError, MissingToolError

KAFKA_VERSION = "4.3.1"
TOXIPROXY_VERSION = "2.12.0"
LOG4J_VERSION = "2.25.3"
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"

_HOW_TO_GET = {
    "java": "install a Java 17+ JDK (Debian: apt-get install openjdk-17-jre-headless)",
    "mvn": "install Apache Maven (Debian: apt-get install maven)",
    "go": "install Go 1.23+ (https://go.dev/dl/)",
    "apt-get": "install redis-server with your system's package manager, or put redis-server on PATH",
}

_KAFKA_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.chaoskit</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>{kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{kafka}</version></dependency>
    <!-- kafka-tools holds ProducerPerformance, the anchor of bench/load_throughput.py -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{kafka}</version></dependency>
    <!-- Kafka logs through slf4j 1.7; this binding sends it to log4j2, configured to a file -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


def cache_dir() -> Path:
    """``$CHAOSKIT_CACHE``, else ``$XDG_CACHE_HOME/chaoskit``, else ``~/.cache/chaoskit``."""
    explicit = os.environ.get("CHAOSKIT_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chaoskit"


@dataclass(frozen=True)
class Components:
    """Where the installed components are."""

    java: Path
    kafka_libs: Path
    toxiproxy_server: Path
    redis_server: Path

    @property
    def kafka_classpath(self) -> str:
        return str(self.kafka_libs / "*")


Progress = Callable[[str], None]


def _say(message: str) -> None:
    print(f"[chaoskit install] {message}", file=sys.stderr, flush=True)


def require_tool(name: str) -> Path:
    found = shutil.which(name)
    if not found:
        raise MissingToolError(
            f"{name} is not on PATH; chaoskit needs it to install its components: {_HOW_TO_GET[name]}"
        )
    return Path(found)


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise ChaoskitError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def _kafka_dir() -> Path:
    return cache_dir() / f"kafka-{KAFKA_VERSION}"


def _toxiproxy_dir() -> Path:
    return cache_dir() / f"toxiproxy-{TOXIPROXY_VERSION}"


def install_kafka(say: Progress = _say) -> Path:
    target = _kafka_dir()
    stamp = target / ".complete"
    if stamp.exists():
        say(f"kafka {KAFKA_VERSION}: cached in {target}")
        return target / "libs"
    require_tool("java")
    mvn = require_tool("mvn")
    say(f"kafka {KAFKA_VERSION}: resolving kafka_2.13 and its runtime dependencies from Maven Central ...")
    started = time.monotonic()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chaoskit-mvn-") as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_text(_KAFKA_POM.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION))
        staging = Path(tmp) / "libs"
        _run(
            [
                str(mvn),
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            f"resolving Kafka {KAFKA_VERSION} with Maven",
        )
        jars = sorted(staging.glob("*.jar"))
        if not any(j.name == f"kafka_2.13-{KAFKA_VERSION}.jar" for j in jars):
            raise ChaoskitError(f"Maven finished but kafka_2.13-{KAFKA_VERSION}.jar is not among the copied jars")
        libs = target / "libs"
        if libs.exists():
            shutil.rmtree(libs)
        shutil.move(str(staging), libs)
    stamp.write_text(KAFKA_VERSION + "\n")
    say(f"kafka {KAFKA_VERSION}: {len(jars)} jars in {libs} ({time.monotonic() - started:.1f} s)")
    return libs


def install_toxiproxy(say: Progress = _say) -> Path:
    target = _toxiproxy_dir()
    binary = target / "toxiproxy-server"
    stamp = target / ".complete"
    if stamp.exists() and binary.exists():
        say(f"toxiproxy {TOXIPROXY_VERSION}: cached in {target}")
        return binary
    go = require_tool("go")
    say(f"toxiproxy {TOXIPROXY_VERSION}: building with go install from {TOXIPROXY_MODULE} ...")
    started = time.monotonic()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chaoskit-go-") as gobin:
        env = {**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"}
        _run(
            [
                str(go),
                "install",
                "-ldflags",
                f"-s -w -X {TOXIPROXY_MODULE}.Version={TOXIPROXY_VERSION}",
                f"{TOXIPROXY_MODULE}/cmd/server@v{TOXIPROXY_VERSION}",
            ],
            f"building Toxiproxy {TOXIPROXY_VERSION}",
            env=env,
        )
        shutil.move(str(Path(gobin) / "server"), binary)
    binary.chmod(0o755)
    stamp.write_text(TOXIPROXY_VERSION + "\n")
    say(f"toxiproxy {TOXIPROXY_VERSION}: {binary} ({time.monotonic() - started:.1f} s)")
    return binary


def install_redis(say: Progress = _say) -> Path:
    found = shutil.which("redis-server")
    if found:
        say(f"redis: {found}")
        return Path(found)
    apt = require_tool("apt-get")
    say("redis: installing Debian's redis-server with apt-get ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    _run([*prefix, str(apt), "update", "-q"], "apt-get update", env=env)
    _run(
        [*prefix, str(apt), "install", "-y", "-q", "--no-install-recommends", "redis-server"],
        "apt-get install redis-server",
        env=env,
    )
    # Debian's package starts a system service on 6379; chaoskit runs its own servers.
    subprocess.run(["service", "redis-server", "stop"], capture_output=True, check=False)
    found = shutil.which("redis-server")
    if not found:
        raise MissingToolError("apt-get installed redis-server but it is not on PATH")
    say(f"redis: {found}")
    return Path(found)


def install_all(say: Progress = _say) -> Components:
    """Install what is missing; cheap (file checks only) when everything is cached."""
    libs = install_kafka(say)
    toxiproxy = install_toxiproxy(say)
    redis = install_redis(say)
    return Components(java=require_tool("java"), kafka_libs=libs, toxiproxy_server=toxiproxy, redis_server=redis)


def locate() -> Components:
    """The installed components, or a clear error saying to run ``chaoskit install``."""
    libs = _kafka_dir() / "libs"
    toxiproxy = _toxiproxy_dir() / "toxiproxy-server"
    missing = []
    if not (_kafka_dir() / ".complete").exists():
        missing.append(f"Kafka {KAFKA_VERSION}")
    if not (_toxiproxy_dir() / ".complete").exists() or not toxiproxy.exists():
        missing.append(f"Toxiproxy {TOXIPROXY_VERSION}")
    redis = shutil.which("redis-server")
    if redis is None:
        missing.append("redis-server")
    if missing or redis is None:
        raise MissingToolError(
            f"{', '.join(missing)} not installed in {cache_dir()}: run `chaoskit install` "
            f"(or set CHAOSKIT_CACHE to where they are)"
        )
    return Components(java=require_tool("java"), kafka_libs=libs, toxiproxy_server=toxiproxy, redis_server=Path(redis))
