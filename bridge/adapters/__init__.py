"""The explicit registry of inbound chatbot platforms. Adding one = one module + one line here.

The slug is the URL path (``POST /webhooks/<slug>``), the module name (``-`` → ``_``), the fixture
folder and the test file name.
"""

from __future__ import annotations

from bridge.adapters.base import Adapter
from bridge.adapters.generic import GenericAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.slug: adapter
    for adapter in (
        GenericAdapter(),
    )
}


def get_adapter(slug: str) -> Adapter | None:
    return ADAPTERS.get(slug)
