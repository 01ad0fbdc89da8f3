"""The deploy artifacts checked by the tools that read them: the compose file by a Compose
Specification parser, the Kubernetes manifests against Kubernetes' schemas, the systemd
units by systemd-analyze; and the slabridge configs in them by `slabridge check`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from compose_spec import PyCompose

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose"
KUBERNETES = DEPLOY / "kubernetes"
SYSTEMD = DEPLOY / "systemd"
# Secrets a check must see set, never their values: placeholders.
PLACEHOLDERS = {"REDMINE_URL": "http://127.0.0.1:9", "REDMINE_API_KEY": "placeholder",
                "JIRA_EMAIL": "placeholder", "JIRA_API_TOKEN": "placeholder",
                "SMTP_PASSWORD": "placeholder"}


def version() -> str:
    found = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found is not None
    return found.group(1)


def slabridge_check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(config), "check"],
        capture_output=True, text=True, env={**os.environ, **PLACEHOLDERS}, timeout=120,
        check=False)


# --- compose ---------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    parsed: dict[str, Any] = PyCompose.from_yaml(
        (COMPOSE / "compose.yaml").read_text(encoding="utf-8")).to_dict()
    return parsed


def test_compose_file_is_valid_compose() -> None:
    assert sorted(compose()["services"]) == ["postgres", "redmine", "slabridge"]


def test_compose_parser_rejects_what_compose_would() -> None:
    """The parser is strict enough to matter: a misspelt key and a wrong value fail."""
    text = (COMPOSE / "compose.yaml").read_text(encoding="utf-8")
    for broken in (text.replace("restart: unless-stopped", "restrt: unless-stopped", 1),
                   text.replace("condition: service_healthy", "condition: service_ok", 1)):
        with pytest.raises(ValueError):
            PyCompose.from_yaml(broken)


def test_compose_file_names_only_files_that_exist() -> None:
    """Every env file has its .example to copy, every bind mount and the build exist."""
    services = compose()["services"]
    for name, service in services.items():
        for env_file in service.get("env_file", []):
            path = env_file if isinstance(env_file, str) else env_file["path"]
            assert (COMPOSE / f"{path}.example").is_file(), (name, path)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source and source.startswith("."):
                assert (COMPOSE / source).exists(), (name, source)
        for port in service.get("ports", []):
            text = port if isinstance(port, str) else str(port.get("host_ip", ""))
            assert str(text).startswith("127.0.0.1"), (name, port)
    build = services["slabridge"]["build"]
    assert (COMPOSE / build["context"] / build["dockerfile"]).is_file()
    assert services["slabridge"]["image"] == f"slabridge:{version()}"


def test_compose_slabridge_config_passes_check() -> None:
    result = slabridge_check(COMPOSE / "config" / "slabridge.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


# --- Kubernetes ------------------------------------------------------------------------

def manifests() -> list[Path]:
    return sorted(path for path in KUBERNETES.glob("*.yaml")
                  if path.name != "kustomization.yaml")


def test_kubernetes_manifests_match_the_kubernetes_schemas() -> None:
    checked = []
    for path in manifests():
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                kubernetes_validate.validate(document, kubernetes_validate.latest_version(),
                                             strict=True)
                checked.append(f"{document['kind']}/{document['metadata']['name']}")
    assert len(checked) >= 6, checked


def test_kubernetes_schema_check_rejects_a_misspelt_field() -> None:
    deployment = yaml.safe_load((KUBERNETES / "deployment.yaml").read_text(encoding="utf-8"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(),
                                     strict=True)


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in manifests() if p.name != "secret.example.yaml")
    (image,) = kustomization["images"]
    assert image["newTag"] == version()


def test_kubernetes_configmap_config_passes_check(tmp_path: Path) -> None:
    configmap = yaml.safe_load((KUBERNETES / "configmap.yaml").read_text(encoding="utf-8"))
    config = tmp_path / "slabridge.yaml"
    config.write_text(configmap["data"]["slabridge.yaml"], encoding="utf-8")
    result = slabridge_check(config)
    assert result.returncode == 0, result.stdout + result.stderr


# --- systemd ---------------------------------------------------------------------------

def installed_slabridge() -> str:
    found = shutil.which("slabridge", path=str(Path(sys.executable).parent))
    assert found is not None, "slabridge is not installed beside this Python"
    return found


def test_systemd_units_verify(tmp_path: Path) -> None:
    """systemd-analyze verify, warnings included; the units' /opt/slabridge/bin/slabridge
    (the README's install path) is pointed at the slabridge installed here."""
    units = sorted([*SYSTEMD.glob("*.service"), *SYSTEMD.glob("*.timer")])
    assert len(units) == 3
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        assert "/opt/slabridge/bin/slabridge" in text or unit.suffix == ".timer"
        (tmp_path / unit.name).write_text(
            text.replace("/opt/slabridge/bin/slabridge", installed_slabridge()),
            encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / u.name) for u in units)],
        capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_verify_reports_an_unknown_directive(tmp_path: Path) -> None:
    unit = tmp_path / "slabridge.service"
    unit.write_text((SYSTEMD / "slabridge.service").read_text().replace(
        "/opt/slabridge/bin/slabridge", installed_slabridge()).replace(
        "[Service]", "[Service]\nRestartSecs=5", 1))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert "Unknown key 'RestartSecs'" in result.stderr


def test_sysusers_creates_the_units_user(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", str(SYSTEMD / "slabridge.sysusers.conf")],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    (entry,) = [line for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
                if line.startswith("slabridge:")]
    assert entry.split(":")[5:] == ["/var/lib/slabridge", "/usr/sbin/nologin"]
    for unit in ("slabridge.service", "slabridge-sync.service"):
        assert "User=slabridge" in (SYSTEMD / unit).read_text()
