"""`flask tm term-import`, `term-export` and `term-report`."""

from __future__ import annotations

import json

from translate.storage.tbx import tbxfile

from tm_service.demo import DEMO_DIR

STARTER = DEMO_DIR / "terminology_starter.tbx"


def test_import_twice_export_and_report(runner, tmp_path):
    first = runner.invoke(args=["tm", "term-import", str(STARTER)])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["created"] == 5
    again = runner.invoke(args=["tm", "term-import", str(STARTER)])
    assert json.loads(again.output)["unchanged"] == 5

    out = tmp_path / "out.tbx"
    exported = runner.invoke(args=["tm", "term-export", str(out)])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["concepts"] == 5
    assert len(tbxfile.parsestring(out.read_bytes()).units) == 5

    report = runner.invoke(args=["tm", "term-report"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output) == {"regions": [], "pages": 0, "occurrences": 0}


def test_a_bad_csv_is_refused_with_its_line_and_nothing_stored(runner, tmp_path, client):
    bad = tmp_path / "terms.csv"
    bad.write_text("concept,language,term\nx,de,Amt\ny,xx-?,Amt\n", encoding="utf-8")
    result = runner.invoke(args=["tm", "term-import", str(bad), "--scope", "alpha"])
    assert result.exit_code != 0
    assert "line 3" in result.output
    assert client.get("/api/v1/terminology/concepts").json["total"] == 0
    unknown = runner.invoke(args=["tm", "term-import", str(STARTER), "--scope", "nowhere"])
    assert unknown.exit_code != 0 and "Unknown region 'nowhere'" in unknown.output
