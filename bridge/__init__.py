"""Recovery Bridge: hand chatbot conversations to humans at the right moment, with everything."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported inside create_app: `bridge --help` and workers need none of it
    from flask import Flask

    from bridge.config import Settings
    from bridge.runtime import Runtime


def create_app(settings: Settings | None = None, rt: Runtime | None = None) -> Flask:
    """Wire the app. No network I/O here: store and Redis connect on first use."""
    from flask import Flask

    from bridge.config import ConfigError, Settings
    from bridge.config.secret_policy import refusal
    from bridge.metrics.ops import Metrics
    from bridge.runtime import Runtime
    from bridge.web import api, errors, health, pages, slack_actions, vendor_events, webhooks

    settings = settings or (rt.settings if rt else Settings.from_env())
    weak = refusal(settings)
    if weak:  # a guessable webhook secret or admin token would open the queue and every case
        raise ConfigError(weak)
    rt = rt or Runtime.build(settings)
    rt.routing()  # an invalid ROUTING_FILE refuses to start (RoutingError names the line)
    app = Flask(__name__)
    # Werkzeug cuts bodies (chunked ones too) at this size while reading, before buffering them.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["bridge.runtime"] = rt
    app.extensions["bridge.metrics"] = Metrics(rt)
    errors.init_app(app)
    for blueprint in (webhooks.bp, health.bp, api.bp, slack_actions.bp, vendor_events.bp, pages.bp):
        app.register_blueprint(blueprint)
    return app
