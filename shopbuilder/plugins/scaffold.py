"""``flask shopbuilder plugins new NAME``: a pip-installable plugin package to start from.

The package has everything a plugin can bring, each in its smallest form: the
``shopbuilder.plugins`` entry point, ``meta``, a slot rendered from a template,
a store page, a settings form, a model with its own Alembic branch, and a test
that passes with the kit's fixtures.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from .hookspecs import HOOK_API_VERSION

NAME_PATTERN = r"^[a-z][a-z0-9_]{1,40}$"

FILES = {
    "setup.cfg": """\
[metadata]
name = shopbuilder-$dashed
version = 0.1.0
description = $title: a ShopBuilder plugin

[options]
# find_namespace: the templates/, static/ and migrations/ folders are packages of their own
# (no __init__.py), so setuptools neither warns about them nor leaves them out.
packages = find_namespace:
include_package_data = True
python_requires = >=3.11
install_requires =
    shopbuilder

[options.packages.find]
include = $module*

[options.package_data]
$module = templates/*, static/*, migrations/*.py

[options.entry_points]
shopbuilder.plugins =
    $name = $module
""",
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[tool.pytest.ini_options]
testpaths = ["tests"]
""",
    "README.md": """\
# shopbuilder-$dashed

$title, a ShopBuilder plugin.

    pip install -e .            # into the shop's environment
    flask --app wsgi db upgrade # creates the plugin's tables (its own migration branch)
    flask --app wsgi shopbuilder plugins enable $name --store <store slug>
    python -m pytest            # the kit's fixtures come with shopbuilder
""",
    "$module/__init__.py": '''\
"""$title: a ShopBuilder plugin."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template

from shopbuilder import hookimpl
from shopbuilder.plugins import PluginMeta, cached_slot, plugin_settings, slot_template

from .forms import SettingsForm

HERE = Path(__file__).parent

meta = PluginMeta(
    name="$name",
    title="$title",
    version="0.1.0",
    description="What $title does for a store.",
    author="",
    api_min="$api_version",  # the hook API this was written for (cached_slot needs 1.5)
    api_max="$api_major.99",
)

# Store pages live under /s/<store>/; they answer 404 in stores that have not enabled the plugin.
bp = Blueprint("$name", __name__, url_prefix="/s/<store>/$dashed")


@bp.get("/")
def index():
    return render_template("$name/page.html", settings=plugin_settings("$name"))


@hookimpl
def shopbuilder_app_blueprints(app):
    return [bp]


@hookimpl
def shopbuilder_app_template_folder():
    return HERE / "templates"


@hookimpl
def shopbuilder_app_migration_folder():
    return HERE / "migrations"


@hookimpl
def shopbuilder_settings_form():
    return SettingsForm


@hookimpl
def shopbuilder_slot(slot, store, context):
    if slot == "product_below_price":
        # The same for every visitor (the store and its settings): drawn once, kept for
        # everyone until the store's pages renew. Use slot_template alone for HTML that
        # is one visitor's own.
        return cached_slot("$name:banner", lambda: slot_template(
            "$name/slot.html", settings=plugin_settings("$name", store), store=store), store)
    return None


# Importing the models registers their table with SQLAlchemy (and the kit's create_all).
from . import models  # noqa: E402,F401
''',
    "$module/forms.py": '''\
"""The plugin's per-store settings: field names are keys, defaults are the platform's."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import Form, StringField
from wtforms.validators import Length


class SettingsForm(Form):
    greeting = StringField(_l("Greeting"), default="Hello!", validators=[Length(max=40)])
''',
    "$module/models.py": '''\
"""The plugin's own table, created by its own Alembic branch (``migrations/``)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shopbuilder.extensions import db
from shopbuilder.models import StoreOwned, Timestamped


class ${Camel}Record(StoreOwned, Timestamped, db.Model):
    __tablename__ = "${name}_record"
    # Marks the table as the plugin's: the core migration leaves it alone.
    __table_args__ = {"info": {"plugin": "$name"}}

    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(String(200), default="", nullable=False)
''',
    "$module/migrations/${name}_0001_initial.py": '''\
"""$name: initial tables

Revision ID: ${name}_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "${name}_0001"
down_revision = None
branch_labels = ("$name",)
depends_on = "0001_core"


def upgrade():
    op.create_table(
        "${name}_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id"], ["chain.id"], name="fk_${name}_record_chain_id_chain"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store.id"], name="fk_${name}_record_store_id_store"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_${name}_record"),
    )
    op.create_index("ix_${name}_record_chain_id", "${name}_record", ["chain_id"])
    op.create_index("ix_${name}_record_store_id", "${name}_record", ["store_id"])


def downgrade():
    op.drop_table("${name}_record")
''',
    "$module/templates/slot.html": """\
<p class="$dashed-slot">{{ settings.greeting }}</p>
""",
    "$module/templates/page.html": """\
{% extends "storefront/layout.html" %}
{% block title %}$title{% endblock %}
{% block content %}<h1>$title</h1><p>{{ settings.greeting }}</p>{% endblock %}
""",
    "tests/test_$name.py": '''\
"""$title works for the stores that enable it and nowhere else."""

from __future__ import annotations

import pytest

import $module
from shopbuilder import tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Store
from shopbuilder.plugins import render_slot
from shopbuilder.testing import set_plugin_settings


@pytest.fixture
def app_config():
    # Registers the plugin even when it is not pip-installed yet.
    return {"EXTRA_PLUGINS": [$module]}


def slot_html(app, store):
    with app.test_request_context(), tenancy.unscoped():
        return str(render_slot("product_below_price", store=db.session.get(Store, store.id)))


def test_slot_shows_in_the_store_that_enabled_it_only(app, store, other_store, enable_plugin):
    enable_plugin("$name", store)
    assert '<p class="$dashed-slot">Hello!</p>' in slot_html(app, store)
    assert slot_html(app, other_store) == ""


def test_chain_setting_reaches_the_slot(app, chain, store, enable_plugin):
    enable_plugin("$name", store)
    set_plugin_settings(app, "$name", {"greeting": "Welcome"}, chain=chain)
    assert "Welcome" in slot_html(app, store)


def test_settings_form_refuses_a_long_greeting():
    from werkzeug.datastructures import MultiDict

    form = $module.SettingsForm(MultiDict({"greeting": "x" * 41}))
    assert not form.validate()
''',
}


class ScaffoldError(Exception):
    pass


def create_plugin(name: str, target_dir: Path) -> Path:
    """Write the package ``shopbuilder-<name>`` in ``target_dir``; returns its folder."""
    if not re.match(NAME_PATTERN, name):
        raise ScaffoldError(
            f"'{name}' is not a valid plugin name: lower-case letters, digits and underscores, "
            "starting with a letter"
        )
    values = {
        "name": name,
        "dashed": name.replace("_", "-"),
        "module": f"shopbuilder_{name}",
        "title": name.replace("_", " ").title(),
        "Camel": "".join(part.title() for part in name.split("_")),
        "api_major": HOOK_API_VERSION.split(".")[0],
        "api_version": HOOK_API_VERSION,
    }
    root = Path(target_dir) / f"shopbuilder-{values['dashed']}"
    if root.exists():
        raise ScaffoldError(f"{root} already exists")
    for path, text in FILES.items():
        target = root / Template(path).substitute(values)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(text).substitute(values), encoding="utf-8")
    return root
