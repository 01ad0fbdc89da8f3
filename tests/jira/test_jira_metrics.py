"""A resolution metric configured only in YAML, on Jira: the issue property holds it beside
the response; every request validated against Atlassian's spec (the jira fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from slabridge.bootstrap import build_syncer
from slabridge.config.loader import load_config
from tests.jira.conftest import (
    NOW,
    body,
    calls,
    stub_property_writes,
    stub_reference,
    stub_search_pages,
    write_config,
)

pytestmark = pytest.mark.usefixtures("jira_env")

RESOLUTION = """sla:
  metrics:
    resolution: {stop_statuses: [Done, Resolved]}
tiers:
  advanced:
    classes:
      critical: {resolution: 2d}
"""


def test_the_property_holds_every_metric(jira: responses.RequestsMock, tmp_path: Path) -> None:
    stub_reference(jira)
    stub_search_pages(jira)
    stub_property_writes(jira)
    report = build_syncer(load_config(write_config(tmp_path, extra=RESOLUTION))).cycle(NOW)
    assert report.errors == 0
    properties = {c.request.url.split("/issue/")[1].split("/")[0]: body(c)
                  for c in calls(jira, "PUT", r"/properties/slabridge\.sla")}
    acme = properties["ACME-1"]
    assert acme["response_due"] == "2026-11-23T12:00:00Z"
    # Two Advanced service days (09:00-16:00 Vienna) from the receipt.
    assert acme["resolution_status"] == "running"
    assert acme["resolution_due"] == "2026-11-24T15:00:00Z"  # Tuesday 16:00 in Vienna
    assert properties["GLX-3"]["resolution_status"] == "no_target"  # Premium: none agreed
