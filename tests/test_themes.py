"""Themes: lookup order, the core: prefix, plugin templates, settings, preview, static files."""

from __future__ import annotations

import io
import textwrap

import email_validator
import pytest
from PIL import Image

from shopbuilder import settings as settings_store
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Store
from shopbuilder.plugins import PluginMeta, hookimpl
from shopbuilder.testing import in_app, login, make_store, set_plugin_enabled
from shopbuilder.themes import ThemeRegistry, get_registry

# The fixtures' staff use the reserved ".test" domain, which email-validator refuses by
# default (the foundation branch does the same in testing.py; harmless twice).
if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")


def write_theme(root, name, parent=None, templates=None, settings=""):
    folder = root / name
    (folder / "templates").mkdir(parents=True)
    (folder / "static").mkdir()
    head = f'name = "{name}"\nversion = "1"\n' + (f'parent = "{parent}"\n' if parent else "")
    (folder / "theme.toml").write_text(head + textwrap.dedent(settings))
    for path, body in (templates or {}).items():
        target = folder / "templates" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
    return folder


class TemplatePlugin:
    def __init__(self, name, folder):
        self.meta = PluginMeta(name=name, title=name, version="1")
        self.folder = folder

    @hookimpl
    def shopbuilder_app_template_folder(self):
        return str(self.folder)


@pytest.fixture
def theme_root(tmp_path):
    root = tmp_path / "themes"
    root.mkdir()
    write_theme(root, "classic", templates={
        "storefront/layout.html":
            '{% extends "core:storefront/layout.html" %}'
            '{% block theme_class %}from-classic{% endblock %}',
    }, settings='''
        [[settings]]
        key = "accent_colour"
        type = "colour"
        label = "Accent"
        default = "#b3261e"
        contrast_with = "#ffffff"

        [[settings]]
        key = "home_sections"
        type = "sections"
        label = "Sections"
        choices = ["banner", "featured"]
        default = ["banner", "featured"]
    ''')
    (root / "classic" / "static" / "theme.css").write_text("body{}")
    write_theme(root, "child", parent="classic", templates={
        "storefront/home.html": "{% extends 'storefront/layout.html' %}"
                                "{% block content %}CHILD HOME {{ slot('x') }}"
                                "{% include 'greeter/hello.html' ignore missing %}{% endblock %}",
    })
    plugin_templates = tmp_path / "greeter_templates"
    (plugin_templates).mkdir()
    (plugin_templates / "hello.html").write_text("HELLO FROM PLUGIN")
    return root


@pytest.fixture
def app_config(theme_root, tmp_path):
    return {
        "THEME_FOLDERS": [str(theme_root)],
        "EXTRA_PLUGINS": [TemplatePlugin("greeter", tmp_path / "greeter_templates")],
    }


def use_theme(app, store, name):
    with in_app(app):
        row = db.session.get(Store, store.id)
        settings_store.set_store_values(row, "theme", {"name": name})
        db.session.commit()


def test_theme_overrides_core_template_and_extends_it_through_core_prefix(app, client, store):
    html = client.get(f"/s/{store.slug}/").get_data(as_text=True)
    assert "from-classic" in html  # the theme's layout...
    assert f"<title>{store.name}</title>" in html  # ...built on the core layout


def test_child_theme_uses_its_own_template_then_its_parents(app, client, store):
    use_theme(app, store, "child")
    html = client.get(f"/s/{store.slug}/").get_data(as_text=True)
    assert "CHILD HOME" in html and "from-classic" in html
    assert "/theme-static/child/theme.css" in html
    # The child has no theme.css of its own: the parent's is served under the child's name.
    assert client.get("/theme-static/child/theme.css").status_code == 200


def test_plugin_templates_are_found_under_their_prefix_only_where_enabled(
    app, client, store, other_store
):
    use_theme(app, store, "child")
    use_theme(app, other_store, "child")
    set_plugin_enabled(app, store, "greeter")
    assert "HELLO FROM PLUGIN" in client.get(f"/s/{store.slug}/").get_data(as_text=True)
    assert "HELLO FROM PLUGIN" not in client.get(f"/s/{other_store.slug}/").get_data(as_text=True)


def test_environments_are_per_theme_and_plugin_set_not_per_store(app, client, chain):
    for i in range(12):
        make_store(app, chain, f"shop-{i}")
        assert client.get(f"/s/shop-{i}/").status_code == 200
    assert get_registry(app).cached_environments == 1


def test_environment_cache_is_bounded(app, theme_root):
    registry = ThemeRegistry(app, [str(theme_root)], env_cache_size=2)
    for plugins in (frozenset(), frozenset({"a"}), frozenset({"b"}), frozenset({"c"})):
        registry.environment("classic", plugins)
    assert registry.cached_environments == 2


def test_parent_cycles_and_unknown_parents_are_refused(app, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    write_theme(root, "classic")
    write_theme(root, "ying", parent="yang")
    write_theme(root, "yang", parent="ying")
    write_theme(root, "orphan", parent="nowhere")
    registry = ThemeRegistry(app, [str(root)])
    assert registry.names == ["classic"]
    assert "cycle" in registry.broken["ying"] and "unknown parent" in registry.broken["orphan"]
    assert registry.get("ying").name == "classic"  # a store on a broken theme still renders


def test_too_deep_parent_chains_are_refused(app, tmp_path):
    root = tmp_path / "deep"
    root.mkdir()
    write_theme(root, "t0")
    for i in range(1, 7):
        write_theme(root, f"t{i}", parent=f"t{i - 1}")
    registry = ThemeRegistry(app, [str(root)])
    assert "t4" in registry.names and "t5" not in registry.names


def test_theme_static_is_cached_for_a_year_and_cannot_escape_its_folder(app, client):
    response = client.get("/theme-static/classic/theme.css?v=1")
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    assert client.get("/theme-static/classic/../theme.toml").status_code == 404
    assert client.get("/theme-static/classic/%2e%2e/theme.toml").status_code == 404
    assert client.get("/theme-static/nope/theme.css").status_code == 404


# -- HQ and the store manager ---------------------------------------------------------------


def test_hq_sets_default_theme_and_forbids_stores_to_choose(app, client, chain, store, hq_user):
    use_theme(app, store, "classic")
    login(client, hq_user, chain=chain)
    page = client.get(f"/hq/{chain.slug}/theme/").get_data(as_text=True)
    assert 'name="default"' in page and 'name="stores_may_choose"' in page
    response = client.post(f"/hq/{chain.slug}/theme/", data={"default": "child"})
    assert response.status_code == 302
    with in_app(app):
        row = db.session.get(Chain, chain.id)
        assert "name" in settings_store.locked_keys(row, "theme")
    # The lock wins over the store's own pick: every store shows HQ's default.
    assert "CHILD HOME" in client.get(f"/s/{store.slug}/").get_data(as_text=True)


def test_hq_sets_a_chain_colour_that_stores_inherit_and_locks_it(
    app, client, chain, store, other_store, hq_user, manager
):
    use_theme(app, store, "classic")
    with in_app(app):  # this store had picked its own colour before HQ locked it
        row = db.session.get(Store, store.id)
        settings_store.set_store_values(row, "theme:classic", {"accent_colour": "#1a5e20"})
        db.session.commit()
    login(client, hq_user, chain=chain)
    page = client.get(f"/hq/{chain.slug}/theme/").get_data(as_text=True)
    assert 'name="accent_colour"' in page and 'name="accent_colour__lock"' in page
    response = client.post(f"/hq/{chain.slug}/theme/settings?theme=classic", data={
        "accent_colour": "#0b3d91", "home_sections__banner": "1",
        "home_sections__featured": "2",
    })
    assert response.status_code == 302
    # Not locked: the store that chose a colour keeps it, the other inherits HQ's.
    assert "--accent-colour:#1a5e20" in client.get(f"/s/{store.slug}/").get_data(as_text=True)
    assert "--accent-colour:#0b3d91" in client.get(
        f"/s/{other_store.slug}/").get_data(as_text=True)
    client.post(f"/hq/{chain.slug}/theme/settings?theme=classic", data={
        "accent_colour": "#0b3d91", "accent_colour__lock": "y",
        "home_sections__banner": "1", "home_sections__featured": "2",
    })
    assert "--accent-colour:#0b3d91" in client.get(f"/s/{store.slug}/").get_data(as_text=True)
    with in_app(app):
        row = db.session.get(Chain, chain.id)
        assert settings_store.locked_keys(row, "theme:classic") == {"accent_colour"}
        # What HQ left at the theme default is not stored: stores show "theme default".
        assert "home_sections" not in settings_store.chain_values(row, "theme:classic")

    manager_client = app.test_client()
    login(manager_client, manager, store=store)
    page = manager_client.get(f"/s/{store.slug}/manage/theme/").get_data(as_text=True)
    assert "Locked by headquarters" in page or "总部已锁定" in page
    # The locked field is disabled (not sent); the rest of the form still saves.
    saved = manager_client.post(f"/s/{store.slug}/manage/theme/", data={
        "home_sections__featured": "1"})
    assert saved.status_code == 302
    assert "--accent-colour:#0b3d91" in client.get(f"/s/{store.slug}/").get_data(as_text=True)


def test_hq_chain_colour_without_enough_contrast_is_refused(app, client, chain, hq_user):
    login(client, hq_user, chain=chain)
    response = client.post(f"/hq/{chain.slug}/theme/settings?theme=classic",
                           data={"accent_colour": "#ffff00"})
    assert response.status_code == 400 and "4.5:1" in response.get_data(as_text=True)
    with in_app(app):
        assert settings_store.chain_values(db.session.get(Chain, chain.id),
                                           "theme:classic") == {}


def test_manager_cannot_pick_a_theme_when_hq_forbids_it(app, client, chain, store, manager):
    with in_app(app):
        row = db.session.get(Chain, chain.id)
        settings_store.set_chain_values(row, "theme", {"name": "classic"}, locked=["name"])
        db.session.commit()
    login(client, manager, store=store)
    assert client.get(f"/s/{store.slug}/manage/theme/?theme=child").status_code == 404
    assert client.get(f"/s/{store.slug}/manage/theme/").status_code == 200


def test_manager_saves_theme_settings_from_the_generated_form(app, client, store, manager):
    login(client, manager, store=store)
    page = client.get(f"/s/{store.slug}/manage/theme/").get_data(as_text=True)
    assert 'name="accent_colour"' in page and 'type="color"' in page
    response = client.post(f"/s/{store.slug}/manage/theme/", data={
        "accent_colour": "#1A5E20", "home_sections__banner": "2", "home_sections__featured": "1",
    })
    assert response.status_code == 302
    html = client.get(f"/s/{store.slug}/").get_data(as_text=True)
    assert "--accent-colour:#1a5e20" in html
    with in_app(app):
        row = db.session.get(Store, store.id)
        assert settings_store.store_overrides(row, "theme:classic")["home_sections"] == [
            "featured", "banner"]


def test_a_colour_without_enough_contrast_is_refused_with_a_reason(app, client, store, manager):
    login(client, manager, store=store)
    response = client.post(f"/s/{store.slug}/manage/theme/", data={"accent_colour": "#ffff00"})
    assert response.status_code == 200
    assert "4.5:1" in response.get_data(as_text=True)


def test_preview_shows_unsaved_settings_without_saving_them(app, client, store, manager):
    login(client, manager, store=store)
    response = client.post(f"/s/{store.slug}/manage/theme/preview", data={
        "accent_colour": "#0b3d91", "home_sections__banner": "1",
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "--accent-colour:#0b3d91" in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "--accent-colour:#0b3d91" not in client.get(f"/s/{store.slug}/").get_data(as_text=True)


def test_customers_and_clerks_cannot_reach_the_theme_settings(app, client, store, clerk):
    assert client.get(f"/s/{store.slug}/manage/theme/").status_code == 302
    login(client, clerk, store=store)
    assert client.get(f"/s/{store.slug}/manage/theme/").status_code == 404


# -- uploads ----------------------------------------------------------------------------------


def image_bytes(fmt="JPEG", size=(2400, 1200), exif=True):
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    extra = {}
    if exif:
        data = Image.Exif()
        data[0x010E] = "secret description"  # ImageDescription
        extra["exif"] = data.tobytes()
    image.save(out, fmt, **extra)
    return out.getvalue()


@pytest.fixture
def upload_theme(theme_root):
    with open(theme_root / "classic" / "theme.toml", "a") as toml:
        toml.write(textwrap.dedent('''
            [[settings]]
            key = "banner"
            type = "image"
            label = "Banner"
            max_width = 800
            max_height = 400
        '''))


def test_uploaded_banner_is_reencoded_resized_stripped_and_cached(
    upload_theme, app, client, store, manager
):
    login(client, manager, store=store)
    response = client.post(f"/s/{store.slug}/manage/theme/", data={
        "accent_colour": "#b3261e", "banner": (io.BytesIO(image_bytes()), "photo.jpg"),
    }, content_type="multipart/form-data")
    assert response.status_code == 302
    with in_app(app):
        path = settings_store.store_overrides(db.session.get(Store, store.id),
                                              "theme:classic")["banner"]
    served = client.get(f"/media/{path}")
    assert served.status_code == 200 and "immutable" in served.headers["Cache-Control"]
    image = Image.open(io.BytesIO(served.data))
    assert image.size == (800, 400)
    assert b"secret description" not in served.data
    assert f"/media/{path}" in client.get(f"/s/{store.slug}/").get_data(as_text=True)


def test_upload_that_is_not_an_image_or_too_large_is_refused(
    upload_theme, app, client, store, manager
):
    login(client, manager, store=store)
    for body, name in ((b"<svg onload=alert(1)>", "x.svg"), (b"\xff" * (3 * 1024 * 1024), "y.jpg")):
        response = client.post(f"/s/{store.slug}/manage/theme/", data={
            "accent_colour": "#b3261e", "banner": (io.BytesIO(body), name),
        }, content_type="multipart/form-data")
        assert response.status_code == 200
        assert 'role="alert"' in response.get_data(as_text=True)


def test_preview_with_a_refused_upload_shows_the_form_with_the_reason(
    upload_theme, app, client, store, manager
):
    login(client, manager, store=store)
    response = client.post(f"/s/{store.slug}/manage/theme/preview", data={
        "accent_colour": "#0b3d91", "banner": (io.BytesIO(b"just some notes"), "logo.txt"),
    }, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    # The settings form, not a preview of the saved settings: the manager's colour is kept
    # in the form and the upload's problem is said next to its field.
    assert "preview-banner" not in html and 'name="accent_colour"' in html
    assert 'value="#0b3d91"' in html
    assert 'role="alert"' in html


def test_a_theme_whose_default_colour_fails_contrast_is_refused(app, tmp_path):
    root = tmp_path / "pale"
    root.mkdir()
    write_theme(root, "classic")
    write_theme(root, "pale", settings='''
        [[settings]]
        key = "accent_colour"
        type = "colour"
        label = "Accent"
        default = "#eeeeee"
        contrast_with = "#ffffff"
    ''')
    registry = ThemeRegistry(app, [str(root)])
    assert "WCAG AA" in registry.broken["pale"] and registry.names == ["classic"]


def test_shipped_themes_load_and_differ(app):
    from shopbuilder.themes import ThemeRegistry as Registry
    from shopbuilder.themes import default_theme_folders

    registry = Registry(app, default_theme_folders(app))
    assert {"classic", "teahouse"} <= set(registry.names) and not registry.broken
    assert registry.settings_of("classic") != registry.settings_of("teahouse")
