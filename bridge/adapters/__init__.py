"""The explicit registry of inbound chatbot platforms. Adding one = one module + one line here.

The slug is the URL path (``POST /webhooks/<slug>``), the module name (``-`` → ``_``), the fixture
folder and the test file name. Adapter modules are imported on first use, so a web process that
only ever sees Intercom never loads the JWT and RSA stacks other platforms need.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping

from bridge.adapters.base import Adapter

PATHS: dict[str, str] = {
    "generic": "generic:GenericAdapter",
    "botframework": "botframework:BotFrameworkAdapter",
    "sunshine-conversations": "sunshine_conversations:SunshineConversationsAdapter",
    "intercom": "intercom:IntercomAdapter",
    "chatwoot": "chatwoot:ChatwootAdapter",
    "ada": "ada:AdaAdapter",
    "crisp": "crisp:CrispAdapter",
    "dialogflow-cx": "dialogflow_cx:DialogflowCXAdapter",
    "rasa": "rasa:RasaAdapter",
    "amazon-lex-v2": "amazon_lex_v2:AmazonLexV2Adapter",
    "freshchat": "freshchat:FreshchatAdapter",
    "drift": "drift:DriftAdapter",
    "botpress": "botpress:BotpressAdapter",
}


class _Registry(Mapping[str, Adapter]):
    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = paths
        self._loaded: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    def __getitem__(self, slug: str) -> Adapter:
        adapter = self._loaded.get(slug)
        if adapter is None:
            module, _, name = self._paths[slug].partition(":")
            with self._lock:
                adapter = self._loaded.get(slug)
                if adapter is None:
                    adapter = getattr(importlib.import_module(f"bridge.adapters.{module}"), name)()
                    self._loaded[slug] = adapter
        return adapter

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


ADAPTERS: Mapping[str, Adapter] = _Registry(PATHS)


def get_adapter(slug: str) -> Adapter | None:
    return ADAPTERS.get(slug)
