"""MT benchmark: BLEU, chrF and chrF++ with sacrebleu signatures, plus speed and memory."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lingualift.errors import DataError
from lingualift.reports import StageReport


class BenchConfig(BaseModel):
    """Options of `lingualift bench-mt`, declared once."""

    model_config = ConfigDict(extra="forbid")

    data: str = Field(description="Pairs: src.txt,ref.txt (FLORES-style), a .tsv, a .jsonl or dataset")
    to: str = Field(description="Target language")
    source_lang: str = Field("en", description="Source language")
    backend: Optional[list[str]] = Field(
        None,
        description="Backend to compare, repeatable; `backend=model` picks the model (e.g. opus=DIR); default nllb",
    )
    source_field: str = Field("source", description="Source column for dataset pairs")
    reference_field: str = Field("reference", description="Reference column for dataset pairs")
    ct2: bool = Field(False, description="Use CTranslate2 (seq2seq backends, llm, tower)")
    batch_tokens: int = Field(4096, gt=0, description="Token budget per batch")
    out: str = Field("runs/bench-mt", description="Directory for bench_mt.json and bench_mt.png")


METRICS = ("bleu", "chrf", "chrf++")


class MTScore(BaseModel):
    score: float
    signature: str  # sacrebleu's: nrefs|case|eff|tok|smooth|version


class MTResult(BaseModel):
    """One translator on the pairs: its scores, speed, peak memory and every hypothesis."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")  # a newer file's keys are kept

    translator: str
    bleu: MTScore
    chrf: MTScore
    chrf_plus: MTScore = Field(alias="chrf++")
    segments: int
    seconds: float
    segments_per_second: Optional[float] = None
    source_tokens_per_second: Optional[float] = None
    peak_memory_mb: Optional[float] = None
    hypotheses: list[str] = Field(default_factory=list)

    def metric(self, name: str) -> MTScore:
        """bleu, chrf or chrf++."""
        return self.chrf_plus if name == "chrf++" else getattr(self, name)


class BenchReport(StageReport):
    """bench_mt.json: one MTResult per translator."""

    results: list[MTResult] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _unversioned(cls, data: Any) -> Any:
        return {"results": data} if isinstance(data, list) else data  # before schema 1: the list itself


def run_bench(config: BenchConfig, *, echo=print) -> BenchReport:
    """Every backend on the pairs: a table on the terminal, bench_mt.json and bench_mt.png in --out."""
    from rich.console import Console
    from rich.table import Table

    from lingualift.languages import get_language

    src, tgt = get_language(config.source_lang), get_language(config.to)
    count, results = benchmark_backends(
        config.data,
        src,
        tgt,
        config.backend or ["nllb"],
        source_field=config.source_field,
        reference_field=config.reference_field,
        ct2=config.ct2,
        batch_tokens=config.batch_tokens,
    )
    table = Table(title=f"{src.name} → {tgt.name}: {count} segments")
    for column in ("translator", "BLEU", "chrF", "chrF++", "seg/s", "tok/s", "peak MB"):
        table.add_column(column)
    report = BenchReport(results=[MTResult.model_validate(r) for r in results])
    for r in report.results:
        table.add_row(
            r.translator,
            *(f"{r.metric(m).score:.2f}" for m in METRICS),
            str(r.segments_per_second),
            str(r.source_tokens_per_second),
            str(r.peak_memory_mb),
        )
    Console().print(table)
    for name in METRICS:
        echo(f"{name}: {report.results[0].metric(name).signature}")
    out = Path(config.out)
    write_outputs(report, out, title=f"{src.name} → {tgt.name} ({count} segments, {config.data})")
    echo(f"results: {out / 'bench_mt.json'}  chart: {out / 'bench_mt.png'}")
    return report


def load_pairs(
    spec: str, *, source_field: str = "source", reference_field: str = "reference"
) -> tuple[list, list]:
    """Pairs from `src.txt,ref.txt` (FLORES-style line files), a .tsv, a .jsonl, or any dataset."""
    if "," in spec and all(Path(p).is_file() for p in spec.split(",")):
        src_path, ref_path = spec.split(",")
        sources = Path(src_path).read_text(encoding="utf-8").splitlines()
        references = Path(ref_path).read_text(encoding="utf-8").splitlines()
        if len(sources) != len(references):
            raise DataError(f"{src_path} has {len(sources)} lines but {ref_path} has {len(references)}")
        return sources, references
    path = Path(spec)
    if path.suffix == ".tsv":
        sources, references = [], []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise DataError(f"{path}:{number}: expected 'source<TAB>reference', got {len(parts)} fields")
            sources.append(parts[0])
            references.append(parts[1])
        return sources, references
    from lingualift.io import load_source, require_columns

    data = load_source(spec)
    split = next(iter(data.values()))
    require_columns(split, [source_field, reference_field], where=spec)
    return list(split[source_field]), list(split[reference_field])


def score(hypotheses: list[str], references: list[str]) -> dict:
    from sacrebleu.metrics import BLEU, CHRF

    results = {}
    for name, metric in (("bleu", BLEU()), ("chrf", CHRF()), ("chrf++", CHRF(word_order=2))):
        value = metric.corpus_score(hypotheses, [references])
        results[name] = {"score": round(value.score, 2), "signature": str(metric.get_signature())}
    return results


def benchmark_backends(
    data: str,
    src,
    tgt,
    backends: list[str],
    *,
    source_field: str = "source",
    reference_field: str = "reference",
    ct2: bool = False,
    batch_tokens: int = 4096,
) -> tuple[int, list[dict]]:
    """(segments, one result per `backend` or `backend=model` spec) on the pairs in `data`."""
    from lingualift.translate.config import TranslateConfig
    from lingualift.translate.engine import build_translator, default_model_for

    sources, references = load_pairs(data, source_field=source_field, reference_field=reference_field)
    results = []
    for spec in backends:
        name, _, model = spec.partition("=")
        config = TranslateConfig(source=data, to=tgt.tag, backend=name, model=model or None, ct2=ct2)
        translator = build_translator(config, name, config.model or default_model_for(name, src, tgt))
        results.append(
            benchmark_translator(translator, sources, references, src, tgt, batch_tokens=batch_tokens)
        )
    return len(sources), results


def benchmark_translator(translator, sources, references, src, tgt, *, batch_tokens: int = 4096) -> dict:
    """Translate `sources` in length-sorted token-budget batches; scores, speed and peak memory."""
    from lingualift.errors import ModelError
    from lingualift.translate.engine import batch_plans, batch_workers, generated_batches
    from lingualift.translate.store import Segment

    order = sorted(range(len(sources)), key=lambda i: (len(sources[i]), i))
    segments = [Segment(str(i), sources[i], src.tag, tgt.tag) for i in order]
    hypotheses = [""] * len(sources)
    start = time.perf_counter()
    lengths = translator.count_tokens([s.source for s in segments])
    plans = batch_plans(translator, segments, batch_tokens, lengths)
    # batches run as in translate: two at once where the translator runs two (CTranslate2 on CPU)
    workers = batch_workers(translator, overlap=False)
    for plan, outputs, _ in generated_batches(translator, plans, src, tgt, workers=workers):
        for segment, output in zip(plan.batch, outputs):
            if isinstance(output, str):  # the engine's failure message for a segment
                raise ModelError(f"{translator.name} failed on segment {int(segment.key) + 1}: {output}")
            hypotheses[int(segment.key)] = output.text
    tokens = sum(lengths)
    seconds = time.perf_counter() - start
    return {
        "translator": translator.name,
        **score(hypotheses, references),
        "segments": len(sources),
        "seconds": round(seconds, 3),
        "segments_per_second": round(len(sources) / seconds, 2) if seconds else None,
        "source_tokens_per_second": round(tokens / seconds, 1) if seconds else None,
        "peak_memory_mb": round(_peak_memory_mb(), 1),
        "hypotheses": hypotheses,
    }


def _peak_memory_mb() -> float:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
    except ImportError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (Linux: KiB)


def write_outputs(report: BenchReport, out: Path, *, title: str) -> None:
    """bench_mt.json (hypotheses included) and a bar chart PNG of the three metrics per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    report.write(out / "bench_mt.json")
    results = report.results
    names = [r.translator for r in results]
    metrics = METRICS
    width = 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(max(6, 2 + 1.6 * len(names)), 4))
    for i, metric in enumerate(metrics):
        positions = [j + i * width for j in range(len(names))]
        ax.bar(positions, [r.metric(metric).score for r in results], width, label=metric)
    ax.set_xticks(
        [j + width for j in range(len(names))],
        [n.split(":", 1)[0] + "\n" + n.split("/")[-1][-28:] for n in names],
        fontsize=8,
    )
    ax.set_ylabel("score")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.text(0.01, 0.01, results[0].bleu.signature + "  |  " + results[0].chrf_plus.signature, fontsize=6)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(out / "bench_mt.png", dpi=120)
    plt.close(fig)
