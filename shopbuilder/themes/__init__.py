"""Themes: folders of templates, static files and a settings schema, one look per store.

A theme lives in ``themes/<name>/`` (see ``docs/themes.md``). A store's pages
are rendered through :func:`render_store_template`, which picks a Jinja
environment for the store's *theme chain* (the theme and its parents) and the
set of plugins the store has enabled. Those environments are overlays of the
app's environment kept in a small LRU cache: Jinja caches compiled templates
by name, so a loader that changed per request would serve one store's
template to another, and one environment per store would cost memory per
tenant. There are few themes and few plugin sets, however many stores.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app, g, request, send_from_directory, url_for
from flask.signals import before_render_template, template_rendered
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from .. import settings as settings_store

log = logging.getLogger(__name__)

EXTENSION_KEY = "shopbuilder.themes"
NAMESPACE = "theme"
DEFAULT_THEME = "classic"
MAX_DEPTH = 5
SETTING_TYPES = ("colour", "image", "text", "select", "boolean", "sections")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class ThemeError(ValueError):
    """A theme folder that cannot be used (bad toml, unknown parent, a cycle...)."""


@dataclass(frozen=True, eq=False)
class Setting:
    """One typed setting a theme declares in ``[[settings]]``."""

    key: str
    type: str
    #: Text, or ``{locale: text}`` (see :func:`shopbuilder.themes.forms.localized`).
    label: Any
    default: Any = None
    help: Any = ""
    choices: tuple = ()
    #: For colours: the colour text is drawn on (or over), checked for WCAG AA contrast.
    contrast_with: str | None = None
    max_length: int = 200
    #: For images: the largest width and height kept after resizing.
    max_width: int = 1600
    max_height: int = 1600

    @classmethod
    def from_toml(cls, theme: str, raw: dict) -> Setting:
        try:
            key, kind = raw["key"], raw["type"]
        except KeyError as exc:
            raise ThemeError(f"{theme}: a setting lacks {exc.args[0]!r}") from None
        if kind not in SETTING_TYPES:
            raise ThemeError(f"{theme}: setting {key!r} has unknown type {kind!r}")
        if not re.match(r"^[a-z][a-z0-9_]{0,40}$", key):
            raise ThemeError(f"{theme}: bad setting key {key!r}")
        choices = tuple(raw.get("choices", ()))
        default = raw.get("default")
        if kind == "colour" and not (isinstance(default, str) and _COLOUR.match(default)):
            raise ThemeError(f"{theme}: colour {key!r} needs a default like '#1a2b3c'")
        contrast_with = raw.get("contrast_with")
        if kind == "colour" and contrast_with:
            from .forms import AA_NORMAL_TEXT, contrast_ratio

            if not _COLOUR.match(str(contrast_with)):
                raise ThemeError(f"{theme}: {key!r} contrast_with must look like '#1a2b3c'")
            if contrast_ratio(default, contrast_with) < AA_NORMAL_TEXT:
                raise ThemeError(f"{theme}: default of {key!r} fails WCAG AA against "
                                 f"{contrast_with}")
        if kind in ("select", "sections") and not choices:
            raise ThemeError(f"{theme}: {kind} {key!r} needs choices")
        if kind == "select" and default not in choices:
            raise ThemeError(f"{theme}: select {key!r} default must be one of its choices")
        if kind == "sections":
            default = tuple(default or ())
            if any(s not in choices for s in default):
                raise ThemeError(f"{theme}: sections {key!r} default names an unknown section")
        if kind == "boolean":
            default = bool(default)
        if kind == "text":
            default = str(default or "")
        return cls(
            key=key, type=kind, label=raw.get("label", key), default=default,
            help=raw.get("help", ""), choices=choices,
            contrast_with=contrast_with, max_length=int(raw.get("max_length", 200)),
            max_width=int(raw.get("max_width", 1600)), max_height=int(raw.get("max_height", 1600)),
        )


@dataclass(frozen=True)
class Theme:
    name: str
    version: str
    path: Path
    label: Any = field(default="", hash=False, compare=False)
    description: Any = field(default="", hash=False, compare=False)
    parent: str | None = None
    own_settings: tuple[Setting, ...] = ()
    #: Labels of home sections and select choices, ``{value: label}``.
    labels: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def template_folder(self) -> Path:
        return self.path / "templates"

    @property
    def static_folder(self) -> Path:
        return self.path / "static"

    @classmethod
    def load(cls, folder: Path) -> Theme:
        toml_file = folder / "theme.toml"
        try:
            raw = tomllib.loads(toml_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ThemeError(f"{folder.name}: cannot read theme.toml: {exc}") from None
        name = raw.get("name")
        if name != folder.name or not _NAME.match(str(name)):
            raise ThemeError(f"{folder.name}: theme.toml name must equal the folder name")
        settings = tuple(Setting.from_toml(name, s) for s in raw.get("settings", ()))
        keys = [s.key for s in settings]
        if len(keys) != len(set(keys)):
            raise ThemeError(f"{name}: a setting key appears twice")
        return cls(
            name=name, version=str(raw.get("version", "0")), path=folder,
            label=raw.get("label", name), description=raw.get("description", ""),
            parent=raw.get("parent") or None, own_settings=settings,
            labels=dict(raw.get("labels", {})),
        )


class ThemeRegistry:
    """The installed themes, their chains, and the Jinja overlay environments."""

    def __init__(self, app, folders, env_cache_size: int = 32):
        self.app = app
        self.themes: dict[str, Theme] = {}
        self.broken: dict[str, str] = {}
        self._envs: OrderedDict = OrderedDict()
        self._env_lock = threading.Lock()
        self.env_cache_size = env_cache_size
        for folder in folders:
            self._scan(Path(folder))
        self._chains = {}
        for name in list(self.themes):
            try:
                self._chains[name] = self._resolve_chain(name)
            except ThemeError as exc:
                self.broken[name] = str(exc)
                log.error("theme %s unusable: %s", name, exc)
        for name in self.broken:
            self.themes.pop(name, None)

    def _scan(self, root: Path) -> None:
        if not root.is_dir():
            return
        for folder in sorted(root.iterdir()):
            if not (folder / "theme.toml").is_file() or folder.name in self.themes:
                continue
            try:
                self.themes[folder.name] = Theme.load(folder)
            except ThemeError as exc:
                self.broken[folder.name] = str(exc)
                log.error("theme %s refused: %s", folder.name, exc)

    def _resolve_chain(self, name: str) -> tuple[Theme, ...]:
        chain, seen = [], set()
        current = name
        while current:
            if current in seen:
                raise ThemeError(f"parent cycle: {' -> '.join([*seen, current])}")
            if len(chain) >= MAX_DEPTH:
                raise ThemeError(f"more than {MAX_DEPTH} levels of parents")
            theme = self.themes.get(current)
            if theme is None:
                raise ThemeError(f"unknown parent theme {current!r}")
            seen.add(current)
            chain.append(theme)
            current = theme.parent
        return tuple(chain)

    # -- lookups -----------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return sorted(self._chains)

    def get(self, name: str | None) -> Theme:
        """The theme ``name``, or the default when it is not installed (never an error page)."""
        if name in self._chains:
            return self.themes[name]
        if DEFAULT_THEME in self._chains:
            return self.themes[DEFAULT_THEME]
        if not self._chains:
            raise ThemeError("no theme is installed")
        return self.themes[self.names[0]]

    def chain(self, name: str) -> tuple[Theme, ...]:
        return self._chains[self.get(name).name]

    def settings_of(self, name: str) -> tuple[Setting, ...]:
        """The settings schema of a theme: its parents' settings, overridden by key."""
        merged: dict[str, Setting] = {}
        for theme in reversed(self.chain(name)):
            for setting in theme.own_settings:
                merged[setting.key] = setting
        return tuple(merged.values())

    def labels_of(self, name: str) -> dict:
        merged: dict = {}
        for theme in reversed(self.chain(name)):
            merged.update(theme.labels)
        return merged

    def find_static(self, name: str, filename: str) -> tuple[Path, str] | None:
        """The theme folder that has ``static/<filename>``, searching parents too."""
        if name not in self._chains:
            return None
        for theme in self._chains[name]:
            path = safe_join(str(theme.static_folder), filename)
            if path is not None and Path(path).is_file():
                return theme.static_folder, filename
        return None

    # -- Jinja environments --------------------------------------------------------------------

    def environment(self, theme_name: str, plugins: frozenset[str]):
        """The overlay environment for (theme chain, enabled plugins), from a bounded LRU cache."""
        chain = tuple(t.name for t in self.chain(theme_name))
        key = (chain, plugins)
        with self._env_lock:
            env = self._envs.get(key)
            if env is not None:
                self._envs.move_to_end(key)
                return env
        env = self.app.jinja_env.overlay(loader=self._loader(chain, plugins))
        with self._env_lock:
            env = self._envs.setdefault(key, env)
            self._envs.move_to_end(key)
            while len(self._envs) > self.env_cache_size:
                self._envs.popitem(last=False)
        return env

    def _loader(self, chain: tuple[str, ...], plugins: frozenset[str]):
        # The app's templates and blueprint folders, without the plugin folders the
        # consoles see: here only the enabled plugins' folders may answer (step 3).
        from ..plugins import CORE_TEMPLATE_LOADER

        core = self.app.extensions.get(CORE_TEMPLATE_LOADER, self.app.jinja_env.loader)
        folders = plugin_template_folders(self.app)
        return ChoiceLoader([
            # 1. "core:storefront/layout.html" always means the core template, so a theme
            #    can extend the very template it overrides.
            PrefixLoader({"core": core}, delimiter=":"),
            # 2. The theme, then its parents: the nearest folder wins.
            FileSystemLoader([str(self.themes[n].template_folder) for n in chain]),
            # 3. Enabled plugins' templates, each under its own "<plugin>/" prefix.
            PrefixLoader({
                name: FileSystemLoader(str(folder))
                for name, folder in sorted(folders.items()) if name in plugins
            }),
            # 4. The core templates.
            core,
        ])

    @property
    def cached_environments(self) -> int:
        return len(self._envs)


def plugin_template_folders(app) -> dict[str, str]:
    """``{plugin name: template folder}`` from the plugin host."""
    from ..plugins import get_host

    host = get_host(app)
    if hasattr(host, "template_folders"):
        return dict(host.template_folders())
    # The host of the skeleton has no helper yet: ask each plugin's hook implementation.
    folders = {}
    for impl in host.app_hook("shopbuilder_app_template_folder").get_hookimpls():
        try:
            folder = impl.function()
        except Exception:
            log.exception("plugin %s failed to name its template folder", impl.plugin_name)
            continue
        if folder:
            folders[impl.plugin_name] = str(folder)
    return folders


def get_registry(app=None) -> ThemeRegistry:
    return (app or current_app).extensions[EXTENSION_KEY]


# -- which theme a store uses, and its settings -------------------------------------------------


def theme_defaults(registry: ThemeRegistry) -> dict:
    return {"name": DEFAULT_THEME if DEFAULT_THEME in registry.names else registry.names[0]}


def chain_theme_name(chain) -> str:
    registry = get_registry()
    return registry.get(settings_store.chain_resolve(chain, NAMESPACE, theme_defaults(registry))[
        "name"]).name


def stores_may_choose(chain) -> bool:
    return "name" not in settings_store.locked_keys(chain, NAMESPACE)


def store_theme_name(store) -> str:
    """The store's theme: its own pick when HQ allows it, else the chain's default."""
    registry = get_registry()
    value = settings_store.values(store, NAMESPACE, theme_defaults(registry))["name"]
    return registry.get(value).name


def settings_namespace(theme_name: str) -> str:
    return f"{NAMESPACE}:{theme_name}"


def setting_defaults(theme_name: str) -> dict:
    return {s.key: s.default for s in get_registry().settings_of(theme_name)}


def store_theme_settings(store, theme_name: str | None = None) -> dict:
    theme_name = theme_name or store_theme_name(store)
    namespace = settings_namespace(theme_name)
    values = settings_store.values(store, namespace, setting_defaults(theme_name))
    for setting in get_registry().settings_of(theme_name):
        if setting.type == "sections":
            values[setting.key] = [s for s in values[setting.key] or () if s in setting.choices]
    return values


# -- rendering -------------------------------------------------------------------------------------


def theme_context(store, draft: dict | None = None, theme_name: str | None = None) -> dict:
    """What every storefront template may use: the theme, its settings, helpers."""
    registry = get_registry()
    name = theme_name or store_theme_name(store)
    values = store_theme_settings(store, name)
    if draft:
        values.update(draft)
    return {
        "theme": registry.get(name),
        "theme_settings": values,
        "theme_labels": registry.labels_of(name),
        "theme_static": lambda filename: url_for(
            "themes.static", theme=name, filename=filename, v=registry.get(name).version
        ),
    }


def media_url(path: str | None) -> str | None:
    return url_for("media.serve", filename=path) if path else None


def render_store_template(name: str, *, draft: dict | None = None, theme_name=None, **context):
    """Render ``name`` in the look of ``g.store``: its theme chain and enabled plugins."""
    from ..plugins import enabled_names

    app = current_app._get_current_object()
    store = g.store
    ctx = theme_context(store, draft=draft, theme_name=theme_name)
    env = get_registry(app).environment(ctx["theme"].name, enabled_names(store))
    template = env.get_or_select_template(name)
    if g.get("page_cache_on"):
        from ..plugins import render_slot
        from ..storefront.pagecache import csrf_token_for_cache, slot_guard

        ctx["slot"] = slot_guard(render_slot)
        ctx["csrf_token"] = csrf_token_for_cache
    ctx.update(context)
    g._store_template = True  # the context processor need not compute it again
    app.update_template_context(ctx)
    before_render_template.send(app, template=template, context=ctx)
    html = template.render(ctx)
    template_rendered.send(app, template=template, context=ctx)
    return html


# -- the app side ----------------------------------------------------------------------------------


def _serve_static(theme: str, filename: str):
    found = get_registry().find_static(theme, filename)
    if found is None:
        raise NotFound()
    folder, name = found
    # The URL carries the theme version (?v=), so a year of caching is safe.
    response = send_from_directory(folder, name, max_age=365 * 86400)
    response.cache_control.immutable = True
    response.cache_control.public = True
    return response


def _page_url() -> str:
    """The address the customer sees (a store's own domain has no ``/s/<slug>`` prefix)."""
    from ..tenancy import strip_host_prefix

    return strip_host_prefix(request.url)


def _is_console(blueprint: str | None) -> bool:
    return bool(blueprint) and blueprint.split(".")[0] in ("manage", "hq", "admin", "api")


def default_theme_folders(app) -> list[str]:
    return [str(Path(app.root_path).parent / "themes")]


def init_app(app) -> ThemeRegistry:
    folders = app.config.get("THEME_FOLDERS") or default_theme_folders(app)
    registry = ThemeRegistry(app, folders, app.config.get("THEME_ENV_CACHE_SIZE", 32))
    app.extensions[EXTENSION_KEY] = registry
    app.add_url_rule(
        "/theme-static/<theme>/<path:filename>", "themes.static", _serve_static
    )

    @app.context_processor
    def storefront_theme():
        # Pages rendered with plain render_template inside a store (a helper that has not
        # moved to render_store_template yet) still get the store's colours and CSS.
        store = g.get("store")
        if store is None or g.get("_store_template") or _is_console(request.blueprint):
            return {}
        try:
            return theme_context(store)
        except Exception:  # a theme problem must not break a console page
            log.exception("theme context failed for store %s", store.slug)
            return {}

    # Fallbacks for templates rendered outside a store's theme (overridden by the context).
    app.jinja_env.globals.setdefault("theme_settings", {})
    app.jinja_env.globals.setdefault("preview", False)
    from .forms import localized

    app.jinja_env.filters["theme_text"] = localized
    app.jinja_env.globals["page_url"] = _page_url
    # A global, not context: imported macros (product_image) see globals only.
    app.jinja_env.globals["media_url"] = media_url
    app.jinja_env.globals["has_endpoint"] = lambda endpoint: endpoint in app.view_functions

    from ..storefront import pagecache
    from .views import register

    register(app)
    pagecache.init_app(app)
    return registry


__all__ = [
    "Setting",
    "Theme",
    "ThemeError",
    "ThemeRegistry",
    "get_registry",
    "render_store_template",
    "store_theme_name",
    "store_theme_settings",
]
