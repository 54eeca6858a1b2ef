"""Alembic with one version branch per plugin.

Every plugin with models keeps its own branch (``branch_labels=("<name>",)``,
``depends_on="0001_core"``) in the folder it returns from
``shopbuilder_app_migration_folder``; ``shopbuilder.app`` adds those folders
to Alembic's ``version_locations``. With several branches there are several
heads, and Alembic refuses ``upgrade head``. Flask-Migrate's ``db upgrade``
defaults to ``head``, so :func:`upgrade_heads_by_default` gives this app a
``db`` group whose ``upgrade`` defaults to ``heads``: a bare
``flask db upgrade`` brings core and every installed plugin to its head.
Naming one revision (``flask db upgrade gift_note@head``) still works.
"""

from __future__ import annotations

import copy

import click


def upgrade_heads_by_default(app, command_name: str = "db") -> None:
    """Replace this app's ``db`` group by a copy whose ``upgrade`` defaults to ``heads``.

    Copies, never mutates, Flask-Migrate's module-level group: other apps in
    the process keep theirs.
    """
    group = app.cli.commands.get(command_name)
    if not isinstance(group, click.Group) or "upgrade" not in group.commands:
        return
    upgrade = copy.copy(group.commands["upgrade"])
    params = []
    for param in upgrade.params:
        if param.name == "revision":
            param = copy.copy(param)
            param.default = "heads"
        params.append(param)
    upgrade.params = params
    upgrade.help = (upgrade.help or "") + " Defaults to every head: core and each plugin branch."
    ours = copy.copy(group)
    ours.commands = {**group.commands, "upgrade": upgrade}
    app.cli.commands[command_name] = ours


def plugin_migration_folders(host) -> dict[str, str]:
    """``{plugin name: folder}`` of the plugins that keep models."""
    found = {}
    for impl in host.app_hook("shopbuilder_app_migration_folder").get_hookimpls():
        folder = impl.function()
        if folder:
            found[impl.plugin_name] = str(folder)
    return found


def include_object(obj, name, type_, reflected, compare_to):
    """Autogenerate sees only one owner's tables: the core's, or one plugin's.

    Plugin tables carry ``info={"plugin": "<name>"}``. ``flask db migrate``
    writes the core's revision and ignores plugin tables;
    ``flask db migrate -x plugin=<name> --head <name>@head`` writes that
    plugin's. A table only in the database (a plugin that was uninstalled) is
    never dropped by autogenerate: its data may come back with the plugin.
    """
    from alembic import context

    wanted = context.get_x_argument(as_dictionary=True).get("plugin")
    table = obj if type_ == "table" else getattr(obj, "table", None)
    if type_ == "table" and reflected and compare_to is None:
        return False
    owner = (table.info or {}).get("plugin") if table is not None else None
    return owner == wanted


def configure_autogenerate(app) -> None:
    config = app.extensions.get("migrate")
    if config is not None:
        config.configure_args.setdefault("include_object", include_object)
