"""The zh_CN catalogues stay consistent and complete.

Flask-Babel merges every area's and plugin's catalogue into one, so two catalogues that
translate the same msgid differently make one of them silently win on every page (the
distribution plugin's "Apply" once turned the storefront's sort button into 申请). A msgid
with two meanings needs two msgids; one meaning gets one wording everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
#: ``N_`` marks a reason stored in English and translated when shown (order timelines).
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2),
            "N_": None}


def _catalogue_paths() -> list[Path]:
    return sorted(
        list(ROOT.glob("shopbuilder/translations/*/zh_Hans_CN/LC_MESSAGES/messages.po"))
        + list(ROOT.glob("plugins/*/translations/zh_Hans_CN/LC_MESSAGES/messages.po"))
    )


def _translations() -> dict[str, dict[str, list[str]]]:
    """msgid -> {zh translation -> [catalogues that use it]} (non-empty translations only)."""
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in _catalogue_paths():
        with path.open("rb") as fh:
            catalogue = read_po(fh)
        for message in catalogue:
            if not message.id:
                continue
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            string = message.string if isinstance(message.string, str) else "|".join(
                message.string)
            if string.strip("|").strip():
                found[msgid][string].append(str(path.relative_to(ROOT)))
    return found


def _used_msgids() -> dict[str, str]:
    """msgid -> first place the code or a template uses it."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    used: dict[str, str] = {}
    for folder in ("shopbuilder", "plugins"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT / folder), method_map=method_map, keywords=KEYWORDS,
            options_map=options_map,
        ):
            msgid = message if isinstance(message, str) else message[0]
            if msgid:
                used.setdefault(msgid, f"{folder}/{filename}:{lineno}")
    return used


def test_no_msgid_has_two_different_chinese_translations():
    conflicts = {
        msgid: {zh: areas for zh, areas in by_zh.items()}
        for msgid, by_zh in _translations().items() if len(by_zh) > 1
    }
    assert not conflicts, "same msgid, different zh_CN in different catalogues:\n" + "\n".join(
        f"  {msgid!r}: {dict(by_zh)}" for msgid, by_zh in sorted(conflicts.items()))


def test_every_text_the_code_shows_has_a_chinese_translation():
    translated = _translations()
    missing = {msgid: where for msgid, where in _used_msgids().items()
               if msgid not in translated}
    assert not missing, f"{len(missing)} msgids have no zh_CN translation:\n" + "\n".join(
        f"  {where}: {msgid!r}" for msgid, where in sorted(missing.items(), key=lambda x: x[1]))


def test_compiled_catalogues_load_on_a_storefront_page(app, client, store):
    html = client.get(f"/s/{store.slug}/info?lang=zh_CN").get_data(as_text=True)
    assert "电话" in html  # "Phone", from the storefront's compiled catalogue
    assert ">Phone<" not in html
