"""Settings, the secret policy and the keys derived from the secret key.

``bridge.config`` keeps the public names of the settings module (``Settings``, ``ConfigError``, …)
so its many importers stay as they are; ``secret_policy`` and ``keys`` are imported by name.
"""

from bridge.config.settings import (
    ConfigError,
    Settings,
    api_url_env_name,
    check_vendor_url,
    load_dotenv_file,
    secret_env_name,
)

__all__ = ["ConfigError", "Settings", "api_url_env_name", "check_vendor_url", "load_dotenv_file",
           "secret_env_name"]
