"""Transcript fetchers (worker side, never in the request path): one module per platform whose API
gives the whole conversation the webhook carried only in part. Each exports
``complete(event, settings) -> Event``, which its adapter's ``complete`` calls."""
