"""The Jira REST API v2 calls the connector makes, one method per endpoint. The only module
importing the ``jira`` library.

Library quirks handled here (research doc §3.2, §4.3):
- Its retries re-POST on a connection reset, which duplicates issues: ``max_retries=0``.
- It calls serverInfo on start and GETs an issue after creating it: ``get_server_info=False``
  and ``prefetch=False``. It has no default timeout: one is set.
- ``add_watcher`` searches users first; the routed owner's account id is known, so the watcher
  is a plain POST. ``Issue.update`` GETs the issue again afterwards; the priority is a plain PUT.
- ``add_remote_link`` looks application links up first (403 for most users): skipped.
- Cloud searches at ``search/jql``; Server and Data Center at ``search``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import requests

from connectors.base import PermanentError, RetryableError, parse_retry_after
from connectors.config import JiraConfig
from connectors.jira.build import RemoteLink
from connectors.jira.report import one_line

# A 4xx means Jira refused the request: retrying the same request cannot help.
_PERMANENT = {400, 401, 403, 404, 405, 409, 413, 415, 422}


class JiraClient:
    def __init__(self, config: JiraConfig, sdk: Any = None) -> None:
        self.sdk = sdk if sdk is not None else _sdk(config)

    def create_issue(self, fields: dict[str, Any]) -> str:
        return str(self.sdk.create_issue(fields=fields, prefetch=False).key)

    def issue_state(self, key: str) -> dict[str, Any]:
        """Status, priority and attachments of an issue, as Jira's JSON."""
        return dict(self.sdk.issue(key, fields="status,priority,attachment").raw or {})

    def search(self, jql: str) -> list[dict[str, Any]]:
        path = "search/jql" if self.sdk.deploymentType == "Cloud" else "search"
        data = self.sdk._get_json(path, params={"jql": jql, "fields": "labels,status", "maxResults": 10})
        return [i for i in data.get("issues") or [] if isinstance(i, dict) and i.get("key")]

    def comments(self, key: str) -> list[tuple[str, str]]:
        """The issue's comments as (id, body)."""
        return [(str(getattr(c, "id", "comment")), getattr(c, "body", "") or "") for c in self.sdk.comments(key)]

    def add_comment(self, key: str, body: str) -> str:
        return str(getattr(self.sdk.add_comment(key, body), "id", "comment"))

    def add_attachment(self, key: str, filename: str, content: bytes) -> None:
        self.sdk.add_attachment(issue=key, attachment=io.BytesIO(content), filename=filename)

    def add_watcher(self, key: str, account_id: str) -> None:
        self.sdk._session.post(self.sdk._get_url(f"issue/{key}/watchers"), data=json.dumps(account_id))

    def add_remote_link(self, key: str, link: RemoteLink) -> None:
        self.sdk.add_remote_link(key, {"url": link.url, "title": link.title}, globalId=link.global_id,
                                 application={"name": "Recovery Bridge", "type": "recovery-bridge"})

    def set_priority(self, key: str, name: str) -> None:
        body = {"fields": {"priority": {"name": name}}}
        self.sdk._session.put(self.sdk._get_url(f"issue/{key}"), data=json.dumps(body))


def _sdk(config: JiraConfig) -> Any:
    from jira import JIRA

    auth: dict[str, Any] = ({"token_auth": config.pat} if config.pat
                            else {"basic_auth": (config.email, config.api_token)})
    sdk = JIRA(server=config.url, get_server_info=False, max_retries=0,
               timeout=(min(5.0, config.timeout), config.timeout), logging=False,
               options={"check_update": False}, **auth)
    sdk.deploymentType = "Cloud" if config.cloud else "Server"
    sdk._applicationlinks = []  # add_remote_link: skip the applinks lookup
    sdk._session.trust_env = False  # never an environment proxy
    return sdk


def field_errors(response: requests.Response | None) -> str:
    """Jira's own words: ``errorMessages`` and the per-field ``errors`` (for the dead-letter record)."""
    if response is None:
        return ""
    try:
        data = response.json()
    except ValueError:
        return one_line(response.text or "", 300)
    if not isinstance(data, dict):
        return one_line(str(data), 300)
    messages = [str(m) for m in data.get("errorMessages") or []]
    errors = data.get("errors") or {}
    if isinstance(errors, dict):
        messages += [f"{field}: {message}" for field, message in errors.items()]
    if not messages and data.get("message"):
        messages.append(str(data["message"]))
    return one_line("; ".join(messages), 500)


def classify(exc: BaseException, what: str = "Jira") -> Exception:
    """Map jira/requests failures onto the queue's two kinds of failure (credentials never quoted)."""
    from jira.exceptions import JIRAError

    if isinstance(exc, (RetryableError, PermanentError)):
        return exc
    if isinstance(exc, JIRAError):
        status = exc.status_code or 0
        response = exc.response
        details = field_errors(response)
        message = f"{what} {status or 'error'}" + (f": {details}" if details else "")
        if status == 429 or (status == 503 and response is not None and response.headers.get("Retry-After")):
            retry_after = parse_retry_after(response.headers.get("Retry-After") if response is not None else None)
            return RetryableError(message, retry_after=retry_after)
        return PermanentError(message) if status in _PERMANENT else RetryableError(message)
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return RetryableError(f"{what} unreachable: {type(exc).__name__}")
    if isinstance(exc, ValueError):  # a 2xx with garbage instead of JSON: ambiguous, retry and look
        return RetryableError(f"{what} answered something that is not JSON")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def definitely_not_created(exc: BaseException) -> bool:
    """Jira answered and made nothing (throttled, unavailable, refused): no search before the next try."""
    from jira.exceptions import JIRAError

    return isinstance(exc, JIRAError) and (exc.status_code in (429, 503) or (exc.status_code or 0) in _PERMANENT)
