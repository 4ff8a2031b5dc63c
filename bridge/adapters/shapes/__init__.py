"""A platform's JSON shapes (a message, a contact) in canonical form, for the platforms whose webhook
and whose read API send the same shapes: the webhook adapter (``bridge/adapters/<module>.py``) and the
transcript fetcher (``bridge/adapters/fetch/<module>.py``) both import them from here, so neither
imports the other."""
