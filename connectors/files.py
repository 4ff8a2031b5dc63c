"""Files a request carries beside what goes on the wire: ones the bridge writes (a transcript, a
console log) and evidence named by URL, which the connector fetches SSRF-safely and uploads.

Shared by the Jira and Zendesk connectors: the builders return these as typed fields of their
requests, and ``fetch_evidence`` downloads them with one line per item saying what happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.fetch import BlockedURL, Fetched, FetchError, Network, fetch


@dataclass(frozen=True)
class GeneratedFile:
    """A file the bridge writes itself (the whole transcript, the console log)."""

    name: str
    content_type: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "content_type": self.content_type, "text": self.text}


@dataclass(frozen=True)
class EvidenceFile:
    """A screenshot or file the payload names by URL: fetched when the request is sent."""

    url: str
    kind: str = "other"
    name: str = ""

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> EvidenceFile:
        return cls(url=str(item["url"]), kind=str(item.get("kind") or "other"), name=str(item.get("name") or ""))

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "kind": self.kind, "name": self.name}


def evidence(items: Iterable[Mapping[str, Any]]) -> tuple[EvidenceFile, ...]:
    return tuple(EvidenceFile.of(item) for item in items)


@dataclass(frozen=True)
class Outcome:
    """One evidence item after the fetch: its content, or ``None`` with the reason in ``refused``."""

    item: EvidenceFile
    fetched: Fetched | None
    refused: str = ""

    @property
    def shown_url(self) -> str:
        return self.item.url[:300]


def fetch_evidence(items: Sequence[EvidenceFile], allow: Sequence[Network]) -> list[Outcome]:
    """Download evidence through the SSRF-safe fetcher; a blocked or failed item says why."""
    outcomes = []
    for item in items:
        try:
            outcomes.append(Outcome(item, fetch(item.url, allow=list(allow))))
        except BlockedURL as exc:
            outcomes.append(Outcome(item, None, f"blocked ({exc})"))
        except FetchError as exc:
            outcomes.append(Outcome(item, None, str(exc)))
    return outcomes
