"""The receipt time an issue's custom fields give, on any tracker."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo

from slabridge.domain.model import checked_receipt


def receipt_in(custom_fields: Mapping[str, str | tuple[str, ...]], field: str | None,
               local_zone: tzinfo, created: datetime) -> tuple[datetime | None, str]:
    """The receipt field's time and why it is not used (see checked_receipt); (None, "")
    where no receipt field is configured. A list value is no time."""
    if not field:
        return None, ""
    value = custom_fields.get(field)
    return checked_receipt(field, value if isinstance(value, str) else "", local_zone, created)
