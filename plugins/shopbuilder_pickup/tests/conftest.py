from __future__ import annotations

import email_validator
import pytest
from flask.testing import FlaskClient

from shopbuilder.testing import set_plugin_enabled

from .helpers import NotifySpy, prepare_store

# Test accounts use the reserved ".test" domain, which email-validator refuses by default
# (the foundation branch makes the kit do this too).
if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")


@pytest.fixture
def spy():
    return NotifySpy()


@pytest.fixture
def app_config(spy):
    return {"EXTRA_PLUGINS": [spy]}


@pytest.fixture
def pickup_store(app, store):
    """``store`` with opening hours 09:00-21:00 daily, coordinates, pickup and the spy on."""
    prepare_store(app, store)
    set_plugin_enabled(app, store, "pickup")
    set_plugin_enabled(app, store, "notify_spy")
    return store


class EnglishClient(FlaskClient):
    """A browser that chose English (the ``lang`` cookie), as most assertions read English."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_cookie("lang", "en")


@pytest.fixture(autouse=True)
def _english_clients(app):
    app.test_client_class = EnglishClient
