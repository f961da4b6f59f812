"""The API tests' report: the property-based run's cases per operation (see test_schemathesis.py),
carried by ``record_property`` so that it is printed under xdist too."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    lines = [value for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
             for name, value in getattr(report, "user_properties", ()) if name == "schemathesis"]
    if not lines:
        return
    roles = {value for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
             for name, value in getattr(report, "user_properties", ()) if name == "schemathesis_roles"}
    terminalreporter.write_sep("-", "schemathesis : cas essayés par opération")
    terminalreporter.write_line(f"chaque cas envoyé avec le jeton de chacun de ces rôles : {', '.join(sorted(roles))}")
    for line in sorted(lines, key=lambda x: x[6:]):
        terminalreporter.write_line(line)
    failed = len([r for r in terminalreporter.stats.get("failed", []) if "test_schemathesis" in r.nodeid])
    terminalreporter.write_line(f"total : {sum(int(x[:4]) for x in lines)} cas, {failed} échec(s)")
