"""The explicit registry of inbound chatbot platforms. Adding one = one module + one line here.

The slug is the URL path (``POST /webhooks/<slug>``), the module name (``-`` → ``_``), the fixture
folder and the test file name.
"""

from __future__ import annotations

from bridge.adapters.ada import AdaAdapter
from bridge.adapters.amazon_lex_v2 import AmazonLexV2Adapter
from bridge.adapters.base import Adapter
from bridge.adapters.botframework import BotFrameworkAdapter
from bridge.adapters.botpress import BotpressAdapter
from bridge.adapters.chatwoot import ChatwootAdapter
from bridge.adapters.crisp import CrispAdapter
from bridge.adapters.dialogflow_cx import DialogflowCXAdapter
from bridge.adapters.drift import DriftAdapter
from bridge.adapters.freshchat import FreshchatAdapter
from bridge.adapters.generic import GenericAdapter
from bridge.adapters.intercom import IntercomAdapter
from bridge.adapters.rasa import RasaAdapter
from bridge.adapters.sunshine_conversations import SunshineConversationsAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.slug: adapter
    for adapter in (
        GenericAdapter(),
        BotFrameworkAdapter(),
        SunshineConversationsAdapter(),
        IntercomAdapter(),
        ChatwootAdapter(),
        AdaAdapter(),
        CrispAdapter(),
        DialogflowCXAdapter(),
        RasaAdapter(),
        AmazonLexV2Adapter(),
        FreshchatAdapter(),
        DriftAdapter(),
        BotpressAdapter(),
    )
}


def get_adapter(slug: str) -> Adapter | None:
    return ADAPTERS.get(slug)
