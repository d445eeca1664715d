"""Compile the .po files beside this script into .mo files (run after editing a .po)."""
import glob
import os

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

HERE = os.path.dirname(os.path.abspath(__file__))


def compile_all():
    for po_path in glob.glob(os.path.join(HERE, "*", "LC_MESSAGES", "*.po")):
        with open(po_path, "rb") as fh:
            catalog = read_po(fh)
        with open(po_path[:-3] + ".mo", "wb") as fh:
            write_mo(fh, catalog)


if __name__ == "__main__":
    compile_all()
