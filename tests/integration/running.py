"""slabridge run as its users run it, on a test workspace: the CLI, the daemon, the demo."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import Workspace

INTERVAL = 5


class DaemonProcess:
    """A running `slabridge run` and what it has logged so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.raw.append(line)
                with contextlib.suppress(ValueError):  # not JSON: kept in raw for messages
                    self.lines.append(json.loads(line))
                self._changed.notify_all()

    def events(self, name: str) -> list[dict[str, Any]]:
        """Log lines with this event so far."""
        with self._changed:
            return [line for line in self.lines if line.get("event") == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 30.0,
                 where: Callable[[dict[str, Any]], bool] = lambda line: True) -> dict[str, Any]:
        """The count-th log line with this event (and condition), waiting for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines
                         if line.get("event") == name and where(line)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    pytest.fail(f"no {count}x {name!r} within {timeout}s; log:\n"
                                + "".join(self.raw[-40:]))
                self._changed.wait(min(left, 0.5))

    @property
    def url(self) -> str:
        """Base URL of the health server."""
        line = self.wait_for("health_listening")
        return f"http://{line['host']}:{line['port']}"

    def get(self, path: str) -> tuple[int, str]:
        """Status and body of a GET on the health server."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """/metrics as {(sample name, sorted labels): value}."""
        code, body = self.get("/metrics")
        assert code == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }

    def signal(self, number: signal.Signals) -> None:
        """Send a signal to the daemon (by its PID)."""
        os.kill(self.process.pid, number)

    def exit_code_within(self, seconds: float) -> int:
        """Wait for the process to end; fail if it takes longer."""
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {seconds}s after the signal; log:\n"
                        + "".join(self.raw[-20:]))


@contextmanager
def daemon(workspace: Workspace, *args: str) -> Iterator[DaemonProcess]:
    """Start `slabridge run`; always kill it by its PID afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), "run",
         "--interval", str(INTERVAL), "--health-port", "0", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=workspace.env,
    )
    try:
        yield DaemonProcess(process)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def cli(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), *args],
        capture_output=True, text=True, env=workspace.env, timeout=600, check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def with_fields(workspace: Workspace, fields: str) -> None:
    """Add a `tracker.fields` block to the workspace's config."""
    text = workspace.config_path.read_text(encoding="utf-8")
    tracker_part, rest = text.split("state:\n")
    workspace.config_path.write_text(
        f"{tracker_part.rstrip()}\n  fields:\n{fields}state:\n{rest}", encoding="utf-8")


def demo(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REDMINE_", "SLABRIDGE_"))}
    return subprocess.run(
        [sys.executable, "-m", "slabridge.demo"], capture_output=True, text=True,
        env={**env, "SLABRIDGE_DEMO_DIR": str(folder)}, timeout=900, check=False,
    )
