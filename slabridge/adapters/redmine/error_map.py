"""python-redmine's, requests' and urllib3's failures as slabridge's errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import requests
from redminelib import exceptions as rex

from slabridge.errors import IssueError, TrackerAuthError, TrackerError, TrackerUnavailableError

T = TypeVar("T")

# Every python-redmine exception and what it means for a cycle. A test fails if the
# library grows one that is not listed here.
ISSUE_ERRORS: tuple[type[Exception], ...] = (
    rex.ForbiddenError, rex.ResourceNotFoundError, rex.ValidationError,
    rex.RequestEntityTooLargeError, rex.ConflictError, rex.ResourceAttrError,
    rex.ResourceNoFieldsProvidedError,
)
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    rex.ServerError, rex.HTTPProtocolError, rex.JSONDecodeError,
    requests.ConnectionError, requests.Timeout,
)
AUTH_ERRORS: tuple[type[Exception], ...] = (rex.AuthError, rex.ImpersonateError)
# Raised by python-redmine for misuse or features slabridge does not use: a bug or an
# incompatible server, reported as a tracker error rather than a crash.
MISUSE_ERRORS: tuple[type[Exception], ...] = (
    rex.CustomFieldValueError, rex.EngineClassError, rex.ExportFormatNotSupportedError,
    rex.ExportNotSupported, rex.FileObjectError, rex.FileUrlError, rex.NoFileError,
    rex.ReadonlyAttrError, rex.ResourceBadMethodError, rex.ResourceError,
    rex.ResourceFilterError, rex.ResourceNoFiltersProvidedError, rex.ResourceRequirementsError,
    rex.ResourceSetFilterLookupError, rex.ResourceSetIndexError,
    rex.ResourceVersionMismatchError, rex.ResultSetTotalCountError, rex.TimezoneError,
    rex.VersionFormatError, rex.VersionMismatchError,
)
OTHER_ERRORS: tuple[type[Exception], ...] = (
    *MISUSE_ERRORS, rex.BaseRedmineError, requests.RequestException,
)

# What Redmine's refusals mean, in place of python-redmine's class names.
REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (rex.ResourceNotFoundError, "not found (HTTP 404): deleted, or not visible to the API "
                                "user"),
    (rex.ForbiddenError, "forbidden (HTTP 403): the API user lacks the permission"),
)


@dataclass(frozen=True)
class ErrorMap:
    """Translates failures of requests to one Redmine; `key_source` is where the API key
    came from (e.g. REDMINE_API_KEY), named when Redmine refuses it."""

    name: str
    key_source: str

    def call(self, action: Callable[[], T], issue: str | None = None) -> T:
        """Run a python-redmine call and translate its failures into slabridge's errors."""
        try:
            return action()
        except Exception as exc:
            self.raise_translated(exc, issue)

    def raise_translated(self, exc: Exception, issue: str | None) -> NoReturn:
        """Raise slabridge's error for the failure being handled (of python-redmine,
        requests or urllib3), or the failure itself if it is none of theirs."""
        translated = self.translated(exc, issue)
        if translated is exc:
            raise exc
        raise translated from None

    def translated(self, exc: Exception, issue: str | None) -> Exception:
        """slabridge's error for `exc` (see call); anything else is returned as it is."""
        where = f"issue #{issue}" if issue else self.name
        if isinstance(exc, AUTH_ERRORS):
            return TrackerAuthError(
                f"Redmine at {self.name} rejected the API key (HTTP 401): check "
                f"{self.key_source}"
            )
        if isinstance(exc, rex.UnknownError):
            # python-redmine raises this for every status it has no class for (429, 502...).
            code = _status_code(exc)
            if code == 429 or code >= 500:
                return TrackerUnavailableError(f"{where}: Redmine unavailable: HTTP {code}")
            error = IssueError if issue else TrackerError
            return error(f"{where}: HTTP {code}")
        if isinstance(exc, ISSUE_ERRORS):
            if issue is None:
                if isinstance(exc, rex.ResourceNotFoundError):
                    return TrackerError(f"Redmine at {self.name} refused a request: not found "
                                        "(HTTP 404): a wrong base URL, project or page, or "
                                        "one the API user cannot see")
                return TrackerError(f"Redmine at {self.name} refused a request: "
                                    f"{_describe(exc)}")
            return IssueError(f"{where}: {_describe(exc)}")
        if isinstance(exc, UNAVAILABLE_ERRORS):
            return TrackerUnavailableError(f"{where}: Redmine unavailable: {_describe(exc)}")
        if isinstance(exc, OTHER_ERRORS):
            return TrackerError(f"{where}: {_describe(exc)}")
        return exc


def _status_code(exc: Exception) -> int:
    digits = "".join(ch for ch in str(exc).rsplit(":", 1)[-1] if ch.isdigit())
    return int(digits) if digits else 0


def _describe(exc: Exception) -> str:
    for kind, meaning in REFUSALS:
        if isinstance(exc, kind):
            return meaning
    if isinstance(exc, rex.ValidationError):
        return f"rejected (HTTP 422): {str(exc).strip()}"
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
