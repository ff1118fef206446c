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
    from lingualift.stage import Step

    stage = next(s for s in registry() if s.name == case["stage"])
    assert Step(case["stage"], stage, None).figure(case["summary"]) == case["figure"]  # as the last screen


def _reports():
    stages = {s.report: s for s in registry() if s.report}
    return [(path, stages[path.name]) for path in sorted((FIXTURES / "old_reports").rglob("*.json"))]


def test_every_stage_that_writes_a_report_declares_its_type():
    from lingualift.reports import StageReport

    writers = [s for s in registry() if s.report]
    assert all(s.report_type and issubclass(s.report_type, StageReport) for s in writers)
    assert {s.report for s in writers} == {path.name for path, _ in _reports()}  # a fixture for each


@pytest.mark.parametrize("path, stage", _reports(), ids=lambda v: getattr(v, "name", ""))
def test_an_old_report_loads_into_its_type_with_every_key_declared_and_writes_back_versioned(
    path, stage, tmp_path
):
    old = stage.report_type.load(path)
    assert old.model_extra == {}  # every key today's writer wrote is a declared field
    assert old.schema_version == 0
    written = json.loads(old.write(tmp_path / path.name).read_text())
    assert written["schema"] == 1
    again = stage.report_type.model_validate(written)
    assert again.model_dump(exclude={"schema_version"}) == old.model_dump(exclude={"schema_version"})


def test_a_writer_cannot_write_a_key_its_report_does_not_declare(tmp_path):
    from lingualift.translate.report import TranslateReport

    with pytest.raises(TypeError, match="undeclared keys: rows_per_minute"):
        TranslateReport(rows=3, rows_per_minute=1.0).write(tmp_path / "translate_report.json")


def test_sections_and_stages_do_not_import_the_page_writer():
    """The circle report.py ↔ stage.py ↔ stages is broken: a stage builds its Section from
    lingualift.sections, which imports neither the registry nor the page writer."""
    import subprocess
    import sys

    code = (
        "import sys, lingualift.sections, lingualift.reports, lingualift.stage; "
        "from lingualift.stages import registry; registry(); "
        "print(sorted(m for m in ('lingualift.report', 'lingualift.pipeline.report') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
