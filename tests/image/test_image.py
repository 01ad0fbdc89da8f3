"""The container image as its users run it: a mounted config, secrets from the environment,
the local Redmine, `slabridge run` stopped by SIGTERM, and nothing in it that should not be."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.image.engine import Engine
from tests.integration.conftest import RedmineServer, Workspace
from tests.integration.redmine_helpers import RedmineAdmin

pytestmark = [pytest.mark.image, pytest.mark.redmine]

ROOT = Path(__file__).resolve().parents[2]
SIZE_GOAL_MB = 200
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "tcc", "x86_64-linux-gnu-gcc-12")


def version() -> str:
    found = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found is not None
    return found.group(1)


def secrets(workspace: Workspace, redmine: RedmineServer) -> dict[str, str]:
    """What a user passes to the container: the URL and slabridge's own key, no more."""
    return {"REDMINE_URL": redmine.url, "REDMINE_API_KEY": workspace.env["REDMINE_API_KEY"]}


def mounted(config_path: Path) -> Path:
    """A folder to mount at /etc/slabridge holding the config as deploy/docker/README.md
    says: readable by the image's user (uid 10001; a root-only folder is not), the state
    in the volume /var/lib/slabridge (the config's folder is mounted read-only)."""
    folder = config_path.parent / "etc-slabridge"
    folder.mkdir(mode=0o755, exist_ok=True)
    folder.chmod(0o755)
    target = folder / "slabridge.yaml"
    text = config_path.read_text(encoding="utf-8")
    text = text.replace("path: state.sqlite3", "path: /var/lib/slabridge/state.sqlite3")
    target.write_text(text, encoding="utf-8")
    target.chmod(0o644)
    return folder


def test_version_and_check_with_a_mounted_config(engine: Engine, workspace: Workspace) -> None:
    shown = engine.run("slabridge", "--version")
    assert (shown.returncode, shown.stdout.strip()) == (0, f"slabridge {version()}")
    checked = engine.run("slabridge", "check", config=mounted(workspace.config_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "slabridge.yaml" in checked.stdout + checked.stderr


def test_a_bad_mounted_config_is_a_located_error(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "slabridge.yaml").write_text("customers:\n  acme:\n    tier: gold\n")
    checked = engine.run("slabridge", "check", config=mounted(tmp_path / "slabridge.yaml"))
    assert checked.returncode == 2
    assert "/etc/slabridge/slabridge.yaml:3" in checked.stderr


def test_an_unreadable_config_and_an_unwritable_state_say_what_to_change(
    engine: Engine, workspace: Workspace, redmine: RedmineServer
) -> None:
    """The two mistakes of a first container run: a config folder only root may read, and
    the default state path inside the read-only mounted config folder."""
    folder = mounted(workspace.config_path)
    folder.chmod(0o700)
    unreadable = engine.run("slabridge", "check", config=folder)
    assert unreadable.returncode == 2
    assert "permission denied" in unreadable.stderr
    assert "uid 10001" in unreadable.stderr and "chmod" in unreadable.stderr
    folder.chmod(0o755)
    config = folder / "slabridge.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "path: /var/lib/slabridge/state.sqlite3", "path: .slabridge/state.sqlite3"))
    unwritable = engine.run("slabridge", "sync", "--once", env=secrets(workspace, redmine),
                            config=folder)
    assert unwritable.returncode == 1
    assert "cannot open the state file /etc/slabridge/.slabridge/state.sqlite3" in unwritable.stderr
    assert "uid 10001" in unwritable.stderr and "chown 10001 /etc/slabridge;" \
        in unwritable.stderr
    assert "in the container image use /var/lib/slabridge" in unwritable.stderr
    # doctor finds it before the daemon starts: the last check, with what to do
    doctor = engine.run("slabridge", "doctor", env=secrets(workspace, redmine), config=folder)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    failing = [line.partition(" -> fix: ") for line in doctor.stdout.splitlines()
               if line.startswith("FAIL")]
    assert [found for found, _, _ in failing] == [
        "FAIL state file /etc/slabridge/.slabridge/state.sqlite3: /etc/slabridge is not "
        "writable"], doctor.stdout
    assert "chown 10001 /etc/slabridge" in failing[0][2]


def test_dry_run_sync_against_the_local_redmine(
    engine: Engine, workspace: Workspace, admin: RedmineAdmin, redmine: RedmineServer
) -> None:
    """The image's slabridge, as the non-admin service account: plans, writes nothing."""
    issue = admin.make_issue(workspace.projects["acme"], "Payment down", priority="Urgent")
    result = engine.run("slabridge", "sync", "--once", "--dry-run", "--json",
                        env=secrets(workspace, redmine), config=mounted(workspace.config_path))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    (planned,) = report["planned"]
    assert (planned["issue"], planned["fields"]["sla_class"]) == (str(issue), "critical")
    assert admin.journal_count(issue) == 0
    assert workspace.env["REDMINE_API_KEY"] not in result.stdout + result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                    timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def test_run_answers_healthz_and_stops_with_0_on_sigterm(
    engine: Engine, workspace: Workspace, admin: RedmineAdmin, redmine: RedmineServer
) -> None:
    """The image's default command: the daemon, healthy after its first cycle, out with
    exit code 0 on SIGTERM (docker stop), its first cycle written to Redmine."""
    issue = admin.make_issue(workspace.projects["acme"], "Shop down", priority="Urgent")
    port = free_port()
    with workspace.config_path.open("a", encoding="utf-8") as config:
        config.write(f"daemon:\n  health_port: {port}\n")
    with engine.start("slabridge", "run", env=secrets(workspace, redmine),
                      config=mounted(workspace.config_path)) as running:
        deadline = time.monotonic() + 180
        status = 0
        while time.monotonic() < deadline and running.process.poll() is None:
            status = healthz(port)
            if status == 200:
                break
            time.sleep(1)
        assert status == 200, running.output() if running.process.poll() is not None else ""
        assert running.stop() == 0, running.output()
    assert admin.field(issue, "SLA class") == "critical"
    assert healthz(port) == 0  # nothing listens any more


def test_runs_as_the_non_root_user_with_a_healthcheck(engine: Engine) -> None:
    assert engine.user() == "10001:10001"
    assert engine.run("id", "-u").stdout.strip() == "10001"
    assert "/healthz" in engine.healthcheck()


def test_holds_the_code_of_this_work_tree(engine: Engine) -> None:
    """A rebuild after a change ships the change: every module of slabridge/ is in the
    image as it is here (a stale layer cache once kept the old code)."""
    here = {path.relative_to(ROOT / "slabridge").as_posix(): path.read_bytes()
            for path in (ROOT / "slabridge").rglob("*.py")}
    with engine.files() as root:
        packages = list(root.glob("opt/slabridge/lib/python3*/site-packages/slabridge"))
        assert len(packages) == 1, packages
        shipped = {path.relative_to(packages[0]).as_posix(): path.read_bytes()
                   for path in packages[0].rglob("*.py")}
    assert sorted(shipped) == sorted(here)
    assert [name for name in here if shipped[name] != here[name]] == []


def test_holds_no_compiler_work_tree_files_or_keys(
    engine: Engine, redmine: RedmineServer
) -> None:
    """No compiler, no .demo (with its API key), no .git or virtualenv of a work tree, no
    build secret, no key of the local Redmine anywhere in its files; its size reported."""
    keys = [redmine.api_key, *redmine.accounts.values()]
    demo_key = ROOT / ".demo" / "env"
    if demo_key.exists():
        keys += re.findall(r"[0-9a-f]{40}", demo_key.read_text())
    with engine.files() as root:
        compilers = [f"{folder}/{name}" for folder in ("usr/bin", "usr/local/bin")
                     for name in COMPILERS if (root / folder / name).exists()]
        assert compilers == []
        strays = [str(path.relative_to(root)) for path in root.rglob("*")
                  if path.name in {".demo", ".git", ".venv", ".ci"}]
        assert not (root / "run" / "secrets" / "ca-bundle").exists()
        assert strays == []
        total = 0
        holding_keys = []
        for path in root.rglob("*"):
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            data = path.read_bytes()
            if any(key.encode() in data for key in keys):
                holding_keys.append(str(path.relative_to(root)))
        assert holding_keys == []
        assert (root / "opt/slabridge/bin/slabridge").exists()
    megabytes = total / 1e6
    print(f"\nimage {engine.image}: {megabytes:.0f} MB of files (goal: under "
          f"{SIZE_GOAL_MB} MB)")
    assert megabytes < SIZE_GOAL_MB
