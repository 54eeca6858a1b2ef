"""Configuration: defaults, environment variables, and the instance folder.

Settings come, last one winning, from the defaults below, ``instance/config.py``
(created on first run with a random SECRET_KEY, never committed), environment
variables prefixed ``SHOPBUILDER_``, and the ``test_config`` mapping given to
``create_app``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: OWASP's 2024 guidance for scrypt: N=2**17, r=8, p=1.
PRODUCTION_PASSWORD_METHOD = "scrypt:131072:8:1"


class Defaults:
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    PASSWORD_HASH_METHOD = PRODUCTION_PASSWORD_METHOD
    BASE_DOMAIN = None
    REDIS_URL = None
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    SUPPORTED_LOCALES = ("zh_CN", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    LOGIN_RATE_LIMIT = "10 per 10 minutes"
    RATELIMIT_HEADERS_ENABLED = True
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    STORES_PER_PAGE = 50


#: Environment variables read at start-up: name without prefix -> config key.
ENVIRONMENT = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "REDIS_URL": "REDIS_URL",
    "BASE_DOMAIN": "BASE_DOMAIN",
    "SECRET_KEY": "SECRET_KEY",
    "PREFERRED_URL_SCHEME": "PREFERRED_URL_SCHEME",
}


def apply_https(config) -> None:
    """Behind HTTPS (``PREFERRED_URL_SCHEME=https``) cookies are only ever sent encrypted."""
    if config.get("PREFERRED_URL_SCHEME") == "https":
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True


def ensure_instance_config(instance_path: str) -> Path:
    """Create the instance folder and a config with a fresh SECRET_KEY once."""
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "config.py"
    if not config_file.exists():
        config_file.write_text(
            "# Generated on first run. Keep it secret; it is not in git.\n"
            f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
        )
    return config_file


def from_environment(config) -> None:
    for name, key in ENVIRONMENT.items():
        value = os.environ.get(f"SHOPBUILDER_{name}")
        if value:
            config[key] = value


def sqlite_default_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "shopbuilder.sqlite3")
