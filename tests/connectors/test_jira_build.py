"""Jira's pure request builders: the exact bodies the client sends, from a request and the config."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.config import ConfigError, Settings
from connectors.base import PermanentError
from connectors.config import JiraConfig
from connectors.jira import BugComment, BugCreate, Reporter
from connectors.jira.build import followup_comment, issue_fields, plus_one_comment, remote_links

CONFIG = JiraConfig.from_settings(Settings(extra={
    "JIRA_URL": "https://acme.atlassian.net/", "JIRA_PROJECT": "SUP", "ZENDESK_SUBDOMAIN": "acme",
    "BRIDGE_PUBLIC_URL": "https://bridge.example.com/", "JIRA_BLAST_RADIUS": "2=High"}))
BUG = BugCreate(summary="Export fails", description="h2. Bug report", labels=("recovery-bridge", "rb-c-1"),
                reporter=Reporter("account:a1", "Customer 1", 100.0, "EUR"), comment="*+1 customer* (case {{c-1}})",
                priority="normal", zendesk_ticket="901")


def test_the_create_is_exactly_the_requests_fields_completed_by_the_config() -> None:
    assert issue_fields(BUG, CONFIG, "c-1") == {
        "summary": "Export fails",
        "description": "Links: [Zendesk ticket #901|https://acme.zendesk.com/agent/tickets/901] · "
                       "[Case page|https://bridge.example.com/cases/c-1]\n\nh2. Bug report",
        "issuetype": {"name": "Bug"},
        "project": {"key": "SUP"},
        "labels": ["recovery-bridge", "rb-c-1"],
        "priority": {"name": "Medium"},
    }
    routed = replace(BUG, project="ENG", components=("Exports",), zendesk_ticket=None, priority="urgent")
    fields = issue_fields(routed, replace(CONFIG, public_url="", issue_type="Defect"), "c-1")
    assert fields["project"] == {"key": "ENG"} and fields["components"] == [{"name": "Exports"}]
    assert fields["issuetype"] == {"name": "Defect"} and fields["priority"] == {"name": "Highest"}
    assert fields["description"] == "h2. Bug report"  # no link to make
    assert "priority" not in issue_fields(BUG, replace(CONFIG, send_priority=False), "c-1")
    with pytest.raises(PermanentError, match="JIRA_PROJECT"):
        issue_fields(BUG, replace(CONFIG, project=""), "c-1")


def test_the_comments_and_links_are_exact() -> None:
    assert plus_one_comment(BUG, CONFIG, "901", "c-2", "c-2-jira.bug", 2, 350.0, ["shot.png (screenshot): attached"]) \
        == ("*+1 customer* (case {{c-1}})\n\nNow *2* customer(s) on this bug, MRR 350.00 in total (currencies as "
            "reported).\n\n[Zendesk ticket #901|https://acme.zendesk.com/agent/tickets/901] · [Case page|"
            "https://bridge.example.com/cases/c-2]\n\nEvidence from this report:\n{noformat}\nshot.png (screenshot): "
            "attached\n{noformat}\n\n{{rb-ref:c-2-jira.bug}}")
    assert followup_comment(BugComment("SUP-1", "*Follow-up #1*"), "k", []) == "*Follow-up #1*\n\n{{rb-ref:k}}"
    links = remote_links(CONFIG, "901", "c-1", ("77", "901", "x"))
    assert [(link.global_id, link.url) for link in links] == [
        ("recovery-bridge:zendesk:901", "https://acme.zendesk.com/agent/tickets/901"),
        ("recovery-bridge:zendesk:77", "https://acme.zendesk.com/agent/tickets/77"),
        ("recovery-bridge:case:c-1", "https://bridge.example.com/cases/c-1")]


def test_the_config_names_the_variable_it_cannot_use() -> None:
    with pytest.raises(ConfigError, match="JIRA_SEARCH_LAG"):
        JiraConfig.from_settings(Settings(extra={"JIRA_SEARCH_LAG": "soon"}))
    assert CONFIG.url == "https://acme.atlassian.net" and CONFIG.cloud and CONFIG.search_lag == 90.0
    assert not JiraConfig.from_settings(Settings(extra={"JIRA_PAT": "p"})).cloud
