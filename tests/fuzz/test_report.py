"""The security table in docs/reliability.md is the rendering of the last recorded fuzz run."""

from __future__ import annotations

import json

from tests.fuzz import report


def test_the_table_in_the_docs_is_generated_from_the_recorded_run() -> None:
    results = json.loads(report.RESULTS.read_text())
    doc = report.DOC.read_text()
    assert report.updated(doc, report.render(results)) == doc, "run `python -m tests.fuzz.report`"
    areas = results["areas"]
    assert {"inbound", "sweep", "queries", "ssrf", "injection"} <= set(areas)
    assert sum(c.get("5xx", 0) for targets in areas.values() for c in targets.values()) == 0


def test_render_counts_what_it_is_given() -> None:
    results = {"profile": "ci", "seconds": 12.0, "python": "3.11", "passed": True, "at": "now", "areas": {
        "inbound": {"intercom": {"tried": 5, "2xx": 2, "4xx": 3}},
        "ssrf": {"hex": {"tried": 4, "blocked": 3, "unresolvable": 1}},
        "injection": {"case page (HTML)": {"tried": 3, "escaped": 2, "refused": 1}}}}
    table = report.render(results)
    assert "| inbound | `intercom` | 5 | 2 2xx, 3 4xx | 0 |" in table
    assert "**12 inputs tried, 0 answered 5xx**" in table
    assert "**4 of 4 SSRF forms blocked**" in table and "**2 injection forms shown escaped**" in table
    assert report.updated("# Doc\n", table).endswith(f"{report.END}\n")
