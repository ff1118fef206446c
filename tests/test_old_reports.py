"""Reports written before the reports were typed still load and render the same page: one of each
stage's JSON under tests/fixtures/old_reports (copied from real runs), the page `lingualift report`
wrote for them then (old_reports.md), and the pipeline summaries with the figure each gave."""

import json
from pathlib import Path

import pytest

from lingualift.stages import registry

FIXTURES = Path(__file__).parent / "fixtures"


def test_lingualift_report_on_old_reports_writes_the_page_it_wrote_before(tmp_path):
    from lingualift.cli import main

    assert main(["report", str(FIXTURES / "old_reports"), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.md").read_text().splitlines()
    page = [line for line in page if not line.startswith("_report written by lingualift")]
    assert page == (FIXTURES / "old_reports.md").read_text().splitlines()


@pytest.mark.parametrize(
    "case", json.loads((FIXTURES / "old_summaries.json").read_text()), ids=lambda c: c["stage"]
)
def test_an_old_pipeline_summary_gives_the_figure_it_gave(case):
    stage = next(s for s in registry() if s.name == case["stage"])
    assert stage.pipeline.figure(case["summary"]) == case["figure"]
