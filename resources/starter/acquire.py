"""Get the AdventureWorks transactions onto this laptop: data/TransactionHistory.csv.

    python acquire.py --source PATH        # a TransactionHistory .csv, .csv.gz, or Microsoft's zip
    python acquire.py --source microsoft   # download Microsoft's AdventureWorks install-script zip
"""

import argparse
import gzip
import io
import shutil
import urllib.request
import zipfile
from pathlib import Path

from transactions import DATA_FILE

MICROSOFT_ZIP = ("https://github.com/Microsoft/sql-server-samples/releases/download/"
                 "adventureworks/AdventureWorks-oltp-install-script.zip")


def table_bytes(source):
    if source == "microsoft":
        with urllib.request.urlopen(MICROSOFT_ZIP, timeout=60) as response:
            raw = response.read()
    else:
        raw = Path(source).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            member = next(n for n in archive.namelist() if n.endswith("TransactionHistory.csv"))
            raw = archive.read(member)
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # the install script ships some tables as UTF-16
        raw = raw.decode("utf-16").encode("utf-8")
    return raw


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="microsoft, or a path to a CSV, .csv.gz or zip")
    args = parser.parse_args()
    DATA_FILE.parent.mkdir(exist_ok=True)
    with open(DATA_FILE, "wb") as out:
        shutil.copyfileobj(io.BytesIO(table_bytes(args.source)), out)
    lines = DATA_FILE.read_bytes().count(b"\n")
    print(f"wrote {DATA_FILE} ({lines:,} transactions)")


if __name__ == "__main__":
    main()
