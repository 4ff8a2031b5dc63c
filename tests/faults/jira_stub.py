"""A recording, programmable Jira (REST API v2) for the fault suite, on the same ``VendorStub`` base.

The operations the live connector calls: ``issue.create``, ``issue.get``, ``issue.update``,
``issue.attach`` (multipart), ``issue.comment`` / ``issue.comments``, ``issue.link`` (remote links,
keyed by globalId: the same globalId updates, never adds), ``issue.watch`` and ``search`` (JQL by
label, the way the connector looks for an issue an ambiguous create may have made).
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.faults.stubs import VendorStub

_ISSUE = re.compile(r"^/rest/api/2/issue/([A-Z]+-\d+)(/[a-z]+)?/?$")


class JiraStub(VendorStub):
    name = "jira"

    def __init__(self) -> None:
        super().__init__()
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[str]] = {}
        self.attachments: dict[str, list[str]] = {}
        self.links: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str) -> str:
        if path.rstrip("/") == "/rest/api/2/issue" and method == "POST":
            return "issue.create"
        if path.startswith("/rest/api/2/search"):
            return "search"
        match = _ISSUE.match(path)
        if not match:
            return f"{method} {path}"
        sub = (match.group(2) or "").strip("/")
        if not sub:
            return {"GET": "issue.get", "PUT": "issue.update"}.get(method, f"{method} issue")
        names = {"attachments": "issue.attach", "remotelink": "issue.link", "watchers": "issue.watch",
                 "comment": "issue.comment" if method == "POST" else "issue.comments"}
        return names.get(sub, f"{method} issue/{sub}")

    def parse_args(self, handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, Any]:
        if "multipart/form-data" in handler.headers.get("Content-Type", ""):
            names = re.findall(rb'filename="([^"]+)"', body)
            return {"filenames": [n.decode("utf-8", "replace") for n in names]}
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {}
        return {**query, **(data if isinstance(data, dict) else {"_body": data})}

    def perform(self, op: str, args: dict[str, Any], path: str) -> tuple[int, Any]:
        with self.lock:
            match = _ISSUE.match(path)
            key = match.group(1) if match else ""
            if op == "issue.create":
                key = f"SUP-{len(self.issues) + 1}"
                self.issues[key] = {"fields": dict(args.get("fields") or {}), "status": "new"}
                return 201, {"id": str(10000 + len(self.issues)), "key": key,
                             "self": f"{self.url}/rest/api/2/issue/{key}"}
            if op == "search":
                wanted = set(re.findall(r'labels = "([^"]+)"', str(args.get("jql", ""))))
                found = [{"key": k, "fields": {"labels": i["fields"].get("labels") or []}}
                         for k, i in self.issues.items() if wanted & set(i["fields"].get("labels") or [])]
                return 200, {"issues": found, "isLast": True}
            if key not in self.issues:
                return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
            issue = self.issues[key]
            if op == "issue.get":
                category = "done" if issue["status"] == "done" else "new"
                return 200, {"key": key, "id": "1", "fields": {
                    "status": {"name": issue["status"], "statusCategory": {"key": category}},
                    "priority": issue["fields"].get("priority"),
                    "attachment": [{"filename": n} for n in self.attachments.get(key, [])]}}
            if op == "issue.update":
                issue["fields"].update(args.get("fields") or {})
                return 204, {}
            if op == "issue.attach":
                names = list(args.get("filenames") or [])
                self.attachments.setdefault(key, []).extend(names)
                return 200, [{"id": str(len(self.attachments[key])), "filename": n, "size": 1,
                              "self": f"{self.url}/rest/api/2/attachment/{len(self.attachments[key])}"}
                             for n in names]
            if op == "issue.comment":
                self.comments.setdefault(key, []).append(str(args.get("body", "")))
                return 201, {"id": str(len(self.comments[key])), "body": args.get("body", "")}
            if op == "issue.comments":
                bodies = self.comments.get(key, [])
                return 200, {"comments": [{"id": str(i), "body": b} for i, b in enumerate(bodies)],
                             "total": len(bodies), "startAt": 0, "maxResults": len(bodies)}
            if op == "issue.link":
                self.links[f"{key}|{args.get('globalId')}"] = args
                return 200, {"id": 1, "self": f"{self.url}/rest/api/2/issue/{key}/remotelink/1"}
            if op == "issue.watch":
                return 204, {}
            return 404, {"errorMessages": [f"no such resource: {op}"]}

    def _answer(self, handler: BaseHTTPRequestHandler, status: int, answer: Any, headers: dict[str, str]) -> None:
        if status == 204:  # No Content has no body (one would be read as the next answer on keep-alive)
            self._raw(handler, 204, b"", "application/json", headers)
            return
        super()._answer(handler, status, answer, headers)

    def issues_labelled(self, label: str) -> list[str]:
        with self.lock:
            return [k for k, i in self.issues.items() if label in (i["fields"].get("labels") or [])]
