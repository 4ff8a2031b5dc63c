"""Jira: one bug per bug fingerprint that an engineer can act on, created exactly once.

**Markup: REST API v2 with wiki markup, not v3 with ADF.** v2 is the one API that both Jira Cloud
(e-mail + API token) and Data Center (personal access token) accept, and it is the ``jira``
library's default for every call we make (create, comment, attachment, remote link); Data Center
has no v3 and no ADF. Wiki markup is dangerous only for text we did not write, so the rule is
simple: headings, labels and links the bridge makes itself are markup; **every piece of customer,
log, bot or LLM text sits inside a ``{noformat}`` block**, where Jira renders nothing — no
``[x|https://evil]`` link, no ``!https://evil/p.png!`` image, no ``{color}`` or ``{code}`` macro,
no bare-URL auto-link. The only way out of such a block is its closing tag, which ``noformat``
defuses. Links we do render (Zendesk ticket, case page) are built from configuration and ids we
checked (a Zendesk ticket id is digits). The summary is plain text in Jira and carries no LLM text.

**Deduplication.** ``connectors.jira.fingerprint`` gives a bug fingerprint; the bug index (``policy.BugIndex``, kept
by the store) maps it to its issue. An open issue for the fingerprint gets a "+1 customer" comment,
the new evidence and, as the blast radius grows (``JIRA_BLAST_RADIUS``), a higher priority,
instead of a second issue. Either way the step's external id is the issue key.

**Exactly once** (research doc §3.2, §4.3): the library's retries are off (``max_retries=0``: it
re-POSTs on a connection reset, which duplicates issues), no server-info call and no post-create GET
(``prefetch=False``), a timeout (the library has none). Every issue carries the case label
``rb-<case id>``. The store records that a create was sent *before* it is sent; a retry after an
ambiguous failure (reset, timeout, 5xx) waits until Jira's search has caught up
(``JIRA_SEARCH_LAG`` seconds after the attempt, by rescheduling the job, never by sleeping) and
searches the label before it creates again. Comments carry a marker and are looked for before
they are posted; remote links use a ``globalId`` (Jira updates rather than duplicates them);
attachments are named after the case and skipped when already on the issue.

The package is split the way Sentry's integrations are: ``build`` (pure: the requests, exactly as
sent), ``client`` (one method per Jira endpoint; the only module importing the library),
``policy`` (exactly once: the claim, record-before-send, search, error classes), ``connector``
(step action → handler) and ``report`` (the description's text).
"""

from connectors.jira.build import BugComment, BugCreate, Reporter, build_bug, build_followup, target_priority
from connectors.jira.connector import ACTIONS, JiraConnector
from connectors.jira.policy import BugClaim, BugIndex, IssueTally
from connectors.jira.report import COMMENT_LIMIT, DESCRIPTION_LIMIT, noformat

__all__ = [
    "ACTIONS", "COMMENT_LIMIT", "DESCRIPTION_LIMIT", "BugClaim", "BugComment", "BugCreate", "BugIndex",
    "IssueTally", "JiraConnector", "Reporter", "build_bug", "build_followup", "noformat", "target_priority",
]
