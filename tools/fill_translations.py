import sys
from babel.messages.pofile import read_po, write_po
path = sys.argv[1]; pairs = dict(line.split("\t", 1) for line in open(sys.argv[2]).read().strip().split("\n"))
with open(path, "rb") as f: cat = read_po(f)
for m in cat:
    if m.id and m.id in pairs: m.string = pairs[m.id]; m.flags.discard("fuzzy")
missing = [m.id for m in cat if m.id and not m.string]
with open(path, "wb") as f: write_po(f, cat, width=100)
print("missing:", missing)
