#!/usr/bin/env python3
"""Parses a script of `regwatch sql` with sqlglot in the given dialect (trino, spark),
strictly (any error is fatal), and prints the output columns of its one SELECT, one a
line: the script is checked to be that dialect's SQL, not run.

usage: sql_parse.py SCRIPT.sql DIALECT
"""
import logging
import sys

import sqlglot
from sqlglot import exp


def main(script, dialect):
    # sqlglot keeps Spark's `SET TIME ZONE 'zone'` (the statement Spark documents) as a
    # command it does not parse, and warns that it does: only the SELECT is checked here.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    statements = [s for s in sqlglot.parse(open(script).read(), read=dialect,
                                           error_level=sqlglot.ErrorLevel.RAISE)
                  if s is not None]
    selects = [s for s in statements if isinstance(s, exp.Select)]
    if len(selects) != 1:
        sys.exit(f"expected one SELECT, found {[type(s).__name__ for s in statements]}")
    for name in selects[0].named_selects:
        print(name)


if __name__ == "__main__":
    main(*sys.argv[1:3])
