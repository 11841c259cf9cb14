"""Runs a script of SQL statements on a current ClickHouse (chdb, in process).

Usage: chdb_runner.py JOB.json RESULT.json

JOB is {"database": name, "statements": [{"name", "sql", "kind"}...]} as the integration
test writes it from `warehouse::catalog`: statements run in order in one session whose
current database is `database` (created first). `kind` is `schema`, `write` or `read`
(answers captured as TabSeparated) or `parse` (only parsed: `EXPLAIN AST`, for statements
that need a cluster). RESULT is a list of {"name", "ok", "output" or "error"} in the same
order. The process exits 0 when it ran everything, whatever each statement's outcome: the
test judges the outcomes.
"""

import json
import sys

from chdb import session


def main() -> int:
    job_path, result_path = sys.argv[1], sys.argv[2]
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    database = job["database"]
    results = []
    runner = session.Session()
    try:
        runner.query(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        runner.query(f"USE `{database}`")
        version = str(runner.query("SELECT version()", "TabSeparated")).strip()
        for statement in job["statements"]:
            sql = statement["sql"]
            kind = statement["kind"]
            if kind == "parse":
                sql = "EXPLAIN AST " + sql
            try:
                if kind in ("read", "parse"):
                    output = str(runner.query(sql, "TabSeparated"))
                else:
                    runner.query(sql)
                    output = ""
                results.append({"name": statement["name"], "ok": True, "output": output})
            except Exception as error:  # chdb raises its own error types
                results.append({"name": statement["name"], "ok": False, "error": str(error)})
    finally:
        runner.close()
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump({"version": version, "results": results}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
