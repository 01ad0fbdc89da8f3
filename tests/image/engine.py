"""Runs the built image as a user would: docker where a daemon answers, else buildah.

buildah runs a command in a throwaway working container with chroot isolation, in the
host's network (as `docker run --network host` does), so the image reaches the local
Redmine on 127.0.0.1 and its health port is reachable from here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_DIR = "/etc/slabridge"


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False,
                          timeout=60).returncode == 0


@dataclass
class Running:
    """`slabridge run` started in the image; stop it as `docker stop` would."""

    process: subprocess.Popen[str]
    stop_signal: Any = field(repr=False)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM to the container's main process; its exit code."""
        self.stop_signal()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def output(self) -> str:
        """What the container printed (after stop)."""
        out, _ = self.process.communicate(timeout=30)
        return out


class Engine:
    """The image `image`, run with docker or buildah."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.kind = os.environ.get("ENGINE") or ("docker" if _docker_answers() else "buildah")
        self.env = {**os.environ, "BUILDAH_ISOLATION": "chroot"}

    def _tool(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run([self.kind, *args], capture_output=True, text=True,
                                env=self.env, timeout=timeout, check=False)
        if result.returncode != 0:
            raise AssertionError(f"{self.kind} {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def exists(self) -> bool:
        """Whether the image has been built (make image)."""
        args = (["image", "inspect", self.image] if self.kind == "docker"
                else ["inspect", "--type", "image", self.image])
        return subprocess.run([self.kind, *args], capture_output=True, env=self.env,
                              check=False, timeout=60).returncode == 0

    def _command(self, args: list[str], env: Mapping[str, str], config: Path | None,
                 container: str | None = None) -> list[str]:
        mount = ["-v", f"{config}:{CONFIG_DIR}:ro"] if config is not None else []
        if self.kind == "docker":
            # -e NAME takes the value from this process's environment: no secret on the
            # command line.
            names = [item for name in env for item in ("-e", name)]
            return ["docker", "run", "--rm", "--network", "host", *mount, *names,
                    *(["--name", container] if container else []), self.image, *args]
        assert container is not None
        # buildah run has no -e NAME; the values are on its command line, as in a test.
        values = [item for name, value in env.items() for item in ("-e", f"{name}={value}")]
        return ["buildah", "run", *mount, *values, container, "--", *args]

    @contextmanager
    def _container(self) -> Iterator[str]:
        if self.kind == "docker":
            yield f"slabridge-test-{os.getpid()}-{time.monotonic_ns()}"
            return
        container = self._tool("from", "--pull=never", "--quiet", self.image)
        try:
            yield container
        finally:
            self._tool("rm", container)

    def run(self, *args: str, env: Mapping[str, str] | None = None,
            config: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """A command in a new container of the image."""
        env = dict(env or {})
        with self._container() as container:
            return subprocess.run(self._command(list(args), env, config, container),
                                  capture_output=True, text=True, timeout=timeout,
                                  env={**self.env, **env}, check=False)

    @contextmanager
    def start(self, *args: str, env: Mapping[str, str] | None = None,
              config: Path | None = None) -> Iterator[Running]:
        """A long-running command in a new container, stopped at the end if still up."""
        env = dict(env or {})
        with self._container() as container:
            process = subprocess.Popen(
                self._command(list(args), env, config, container), text=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**self.env, **env})

            def stop() -> None:
                if self.kind == "docker":
                    self._tool("kill", "--signal", "TERM", container)
                else:
                    # buildah run kills its command on SIGTERM instead of passing it on;
                    # the signal goes to the container's own process, as docker stop does.
                    os.kill(_innermost(process.pid), signal.SIGTERM)

            running = Running(process, stop)
            try:
                yield running
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)

    def _config(self) -> dict[str, Any]:
        """The image's configuration (User, Healthcheck, ...) in Docker's format."""
        if self.kind == "docker":
            config = json.loads(self._tool("image", "inspect", "-f", "{{json .Config}}",
                                           self.image))
        else:
            config = json.loads(self._tool("inspect", "--type", "image", self.image))[
                "Docker"]["config"]
        return dict(config)

    def user(self) -> str:
        """The image's configured user (USER)."""
        return str(self._config().get("User", ""))

    def healthcheck(self) -> str:
        """The image's HEALTHCHECK command (empty if it has none)."""
        return " ".join((self._config().get("Healthcheck") or {}).get("Test", []))

    @contextmanager
    def files(self) -> Iterator[Path]:
        """The image's file system, read-only by convention."""
        if self.kind == "docker":
            container = self._tool("create", self.image)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    export = subprocess.Popen(["docker", "export", container],
                                              stdout=subprocess.PIPE)
                    assert export.stdout is not None
                    with tarfile.open(fileobj=export.stdout, mode="r|") as archive:
                        archive.extractall(tmp, filter="tar")
                    export.wait(timeout=600)
                    yield Path(tmp)
            finally:
                self._tool("rm", container)
            return
        with self._container() as container:
            root = Path(self._tool("mount", container))
            try:
                yield root
            finally:
                self._tool("umount", container)


def _innermost(pid: int) -> int:
    """The container's command among the descendants of `pid` (buildah run > its runtime >
    the command): the Python process. Parents are read from /proc/*/stat, as pgrep does:
    a Go program's children are not all listed under its main thread."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parents: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [pid]
        while todo:
            for child in parents.get(todo.pop(), []):
                found.append(child)
                todo.append(child)
        for candidate in found:
            try:
                program = Path(f"/proc/{candidate}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if program.endswith(b"python"):
                return candidate
        time.sleep(0.1)
    raise AssertionError("the container's process did not start")
