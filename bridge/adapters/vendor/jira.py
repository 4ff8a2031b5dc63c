"""Jira events back: verified with ``bridge.signing`` and parsed into ``IssueChanged`` / ``VersionReleased``.

Verification (``JIRA_WEBHOOK_SECRET``, comma list for rotation), either of:
  * ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`` — what Jira Cloud sends for a
    webhook registered with a secret;
  * the secret itself in ``X-Bridge-Webhook-Secret`` or ``?secret=`` — for Jira Automation's
    "Send web request" and Data Center, which cannot sign. Compared in constant time.
Dedupe key: ``X-Atlassian-Webhook-Identifier`` (stable across Jira's retries), else a body hash.

Payloads (Jira Cloud webhooks): ``jira:issue_updated`` / ``jira:issue_created`` with ``issue``
{``key``, ``fields`` {``resolution``, ``resolutiondate``, ``fixVersions``}}, ``user``,
``timestamp`` (ms); ``jira:version_released`` with ``version`` {``id``, ``name``}.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from bridge.adapters.base import Delivery, Inbound, Unauthorized, as_dict
from bridge.adapters.vendor.base import Ignored, VendorAdapter, VendorHandler
from bridge.adapters.vendor.changes import Change, FixVersion, IssueChanged, VersionReleased
from bridge.adapters.vendor.zendesk import parse_time
from bridge.signing import SignatureError, verify_hub_signature, verify_shared_secret


def _when(body: dict[str, Any]) -> datetime | None:
    stamp = body.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return None


def _actor(body: dict[str, Any]) -> str:
    user = as_dict(body.get("user"))
    return str(user.get("accountId") or user.get("name") or "webhook")


def _version_released(body: dict[str, Any], delivery: Delivery) -> list[Change]:
    version = as_dict(body.get("version"))
    vid, name = str(version.get("id") or ""), str(version.get("name") or "")
    if not vid and not name:
        raise Ignored("no_version")
    return [VersionReleased(id=vid, name=name, at=_when(body), actor=_actor(body))]


def _issue(body: dict[str, Any], delivery: Delivery) -> list[Change]:
    issue = as_dict(body.get("issue"))
    key = str(issue.get("key") or "")
    if not key:
        raise Ignored("unknown_issue")
    fields = as_dict(issue.get("fields"))
    resolution = fields.get("resolution")
    versions = tuple(
        FixVersion(id=str(v.get("id") or ""), name=str(v.get("name") or ""), released=v.get("released") is True)
        for v in fields.get("fixVersions") or [] if isinstance(v, dict)
    )
    return [IssueChanged(
        key=key, at=_when(body), actor=_actor(body),
        resolved=True if isinstance(resolution, dict) else False if resolution is None else None,
        resolution=str(resolution.get("name") or "Resolved") if isinstance(resolution, dict) else "",
        resolved_at=parse_time(fields.get("resolutiondate")),
        fix_versions=versions,
    )]


class JiraEvents(VendorAdapter):
    source = "jira"
    handlers: ClassVar[Mapping[str, VendorHandler]] = {
        "jira:version_released": _version_released,
        "jira:issue_updated": _issue,
        "jira:issue_created": _issue,
    }

    def verify(self, inbound: Inbound, secrets: Sequence[str], tolerance: int) -> None:
        if not secrets:
            raise Unauthorized("no secret configured")
        hub = inbound.header("X-Hub-Signature")
        token = inbound.header("X-Bridge-Webhook-Secret") or inbound.query.get("secret", "")
        try:
            if hub:
                verify_hub_signature(inbound.body, hub, secrets)
            elif not token:
                raise SignatureError("no signature and no shared secret")
            else:
                verify_shared_secret(token, secrets)
        except SignatureError as exc:
            raise Unauthorized(str(exc)) from None

    def event_type(self, body: dict[str, Any]) -> str:
        return str(body.get("webhookEvent") or "")

    def stored_type(self, body: dict[str, Any]) -> str:
        return str(body.get("webhookEvent") or "jira")

    def delivery_id(self, inbound: Inbound, body: dict[str, Any]) -> str:
        found = inbound.header("X-Atlassian-Webhook-Identifier").strip()
        return found or "sha256:" + hashlib.sha256(inbound.body).hexdigest()
