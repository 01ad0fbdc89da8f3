"""The vendored OpenAPI descriptions are the ones recorded in specs/sources.json."""

from __future__ import annotations

import gzip
import hashlib
import json

from tests.jira_openapi.refresh_specs import SOURCES, SPECS, readme
from tests.jira_openapi.validator import JiraSpec


def test_vendored_files_match_their_recorded_checksums() -> None:
    """Each gzipped description decompresses to the JSON whose sha256 sources.json records."""
    record = json.loads((SPECS / "sources.json").read_text(encoding="utf-8"))
    actual = {e["file"]: hashlib.sha256(gzip.decompress((SPECS / f"{e['file']}.gz")
                                                        .read_bytes())).hexdigest()
              for e in record}
    assert actual == {e["file"]: e["sha256"] for e in record}
    assert sorted(actual) == sorted(name for name, _, _ in SOURCES.values())


def test_readme_says_what_sources_json_records() -> None:
    """specs/README.md is the one the refresh script writes from sources.json."""
    record = json.loads((SPECS / "sources.json").read_text(encoding="utf-8"))
    assert (SPECS / "README.md").read_text(encoding="utf-8") == readme(record)


def test_validator_reads_the_vendored_copies() -> None:
    """The validator loads its descriptions from the repository's own specs directory."""
    assert JiraSpec().spec_dir == SPECS
