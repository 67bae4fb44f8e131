#!/usr/bin/env python3
"""Reads an XLSX file back with openpyxl (as a spreadsheet would) and prints what the
tests check, as JSON: for each sheet its name, frozen pane, autofilter range, number of
rows, and every cell's value, openpyxl type ("s" text, "n" number, "d" date) and number
format. Dates are printed in ISO form.

    python3 read_xlsx.py FILE.xlsx
"""
import datetime
import json
import sys

import openpyxl


def cell(c):
    v = c.value
    if isinstance(v, datetime.datetime):
        v = v.isoformat()
    return {"v": v, "t": c.data_type if c.value is not None else None, "fmt": c.number_format}


def main(path):
    book = openpyxl.load_workbook(path)
    out = []
    for ws in book.worksheets:
        out.append({
            "name": ws.title,
            "freeze_panes": ws.freeze_panes,
            "autofilter": ws.auto_filter.ref,
            "rows": [[cell(c) for c in row] for row in ws.iter_rows()],
            "widths": {k: d.width for k, d in ws.column_dimensions.items()},
        })
    json.dump({"sheets": out}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
