"""Fill a .po catalogue from ``msgid<TAB>translation`` lines: ``fill_translations.py PO TSV``.

Prints the msgids still untranslated, so a translator sees what is left.
"""

from __future__ import annotations

import sys

from babel.messages.pofile import read_po, write_po


def main(po_path: str, tsv_path: str) -> None:
    with open(tsv_path, encoding="utf-8") as handle:
        pairs = dict(line.split("\t", 1) for line in handle.read().strip().split("\n"))
    with open(po_path, "rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id and message.id in pairs:
            message.string = pairs[message.id]
            message.flags.discard("fuzzy")
    with open(po_path, "wb") as handle:
        write_po(handle, catalog, width=100)
    missing = [message.id for message in catalog if message.id and not message.string]
    print("untranslated:", missing)


if __name__ == "__main__":
    main(*sys.argv[1:3])
