"""The translation engine: plan → dedupe → sort by length → batch by token budget → translate →
commit each batch → assemble rows from the store.

Rows are never all held in memory: planning streams the dataset into the SQLite store's pending
queue, translation pages through that queue, and assembly is a batched `Dataset.map`. A kill at
any point loses at most the batch in flight; running the same command again resumes.
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from pathlib import Path
from typing import NamedTuple

from lingualift.errors import ConfigError, DataError, LanguageError, LinguaLiftError
from lingualift.languages import Language, backend_code, get_language
from lingualift.models import quantization_config, require_cuda_for_quantization
from lingualift.translate import formats
from lingualift.translate.config import SEQ2SEQ, TranslateConfig
from lingualift.translate.quality import loop_free_prefixes, segment_flags
from lingualift.translate.report import TranslateReport
from lingualift.translate.segment import PLACEHOLDER_RE
from lingualift.translate.store import Result, Segment, TranslationStore

PAGE = 2048
MAX_BATCH_ITEMS = 256


def default_backend(tgt: Language) -> str:
    for family in ("nllb", "madlad", "m2m"):
        try:
            backend_code(tgt, family)
            return family
        except LanguageError:
            continue
    raise LanguageError(f"no MT family supports {tgt.name} ({tgt.tag}): use --backend llm or openai")


def translate_dataset(config: TranslateConfig, *, echo=print, progress: bool = True) -> TranslateReport:
    """Translate `config.source` into `config.out` (save_to_disk), resuming from the store; the report."""
    if config.out is None:
        raise ConfigError("translate needs --out (where the translated dataset goes)")
    out = config.out
    import datasets

    from lingualift.data_push import require_token
    from lingualift.io import load_source, require_columns
    from lingualift.language_id import unknown_target, use

    use(config.lid)
    require_token(config)
    started = time.perf_counter()
    tgt = get_language(config.to)
    language_check = unknown_target(tgt.tag, tgt.name)
    if language_check:  # without this, every good translation would be flagged wrong_language
        echo(f"warning: no wrong_language flags: {language_check}")
    backend = config.backend or default_backend(tgt)
    if backend in SEQ2SEQ or backend == "tower":
        backend_code(tgt, backend)  # fail before anything loads
    require_cuda_for_quantization(config.quant4, config.quant8, config.device)
    rank, world = config.shard_position()
    work = Path(config.work_dir or f"{out}.work")
    store = TranslationStore(work / f"store-{rank}-of-{world}.sqlite")

    data = load_source(config.source, split=config.split, max_rows=config.limit)  # a hub dump: streamed
    if isinstance(data, datasets.Dataset):
        data = datasets.DatasetDict({config.split: data})
    first = next(iter(data.values()))
    layout = formats.detect_layout(config, first.column_names, first.features)
    if layout.kind == "fields":
        require_columns(data, layout.columns, where=config.source)
        columns = next(iter(data.values())).column_names
        if not config.source_lang and config.lang_field not in columns:
            raise ConfigError(
                f"{config.source}: no '{config.lang_field}' column to tell each row's language: pass "
                "--from (e.g. --from en)"
            )
        echo(layout.describe())
    planner = formats.Planner(config, tgt, backend)

    planned, before = formats.plan_segments(data, layout, planner, store, rank, world)
    pending = store.pending_count()
    echo(
        f"rank {rank}/{world}: {planned} unique segments, {planned - pending} already in the store, "
        f"{pending} to translate with {backend}"
    )
    from lingualift.endpoint import FailureTally

    stats, failures = Counter(), FailureTally()
    if pending:
        stats = _translate_pending(config, backend, tgt, store, pending, failures, progress=progress)
    (work / f"done-{rank}-of-{world}.json").write_text(json.dumps({"translated": stats.get("segments", 0)}))
    seconds = stats.get("seconds", 0.0)
    report = TranslateReport(
        rank=rank,
        world_size=world,
        backend=backend,
        model=config.model,
        target=tgt.tag,
        unique_segments=planned,
        reused_from_store=planned - pending,
        translated_segments=stats.get("segments", 0),
        failed_segments=stats.get("failed", 0),
        failures_by_reason=dict(failures.failed.most_common()),
        salvaged_from_repetition=stats.get("salvaged", 0),
        retried_for_repetition=stats.get("retried", 0),
        still_looping_after_retry=stats.get("still_looping", 0),
        cut_by_tokens=stats.get("cut_by_tokens", 0),
        translation_seconds=round(seconds, 2),
        retry_seconds=round(stats.get("retry_seconds", 0.0), 2),
        tokens_per_second=round(stats["tokens"] / seconds, 1) if seconds else None,
        segments_per_second=round(stats["segments"] / seconds, 2) if seconds else None,
        language_check=f"skipped: {language_check}" if language_check else use(config.lid).name,
    )
    store.close()
    if rank != 0:
        echo(f"rank {rank} finished its shard; rank 0 assembles the dataset")
        return report
    _wait_for_ranks(work, world, echo)
    stores = [TranslationStore(p, readonly=True) for p in sorted(work.glob(f"store-*-of-{world}.sqlite"))]
    try:
        assembled, tally = formats.assemble(data, layout, planner, stores)
    finally:
        for s in stores:
            s.close()
    from lingualift.io import save_dataset

    save_dataset(assembled, out)
    seconds = time.perf_counter() - started
    rows = sum(before.values())
    flags = {key.split(":", 1)[1]: n for key, n in sorted(tally.rows.items()) if key.startswith("flag:")}
    outcomes = {key: n for key, n in tally.rows.items() if not key.startswith("flag:")}
    fields = layout.kind == "fields"
    report = report.model_copy(
        update=dict(
            format=layout.format,
            fields=list(layout.fields),
            roles=sorted(layout.roles) if layout.roles else None,
            rows=rows,
            rows_per_split=before,
            rows_by_outcome=outcomes,
            rows_by_flag=flags,
            strings_by_field={f: dict(c) for f, c in tally.strings.items()} if fields else None,
            turns_by_outcome=dict(tally.turns) if fields else None,
            seconds=round(seconds, 2),
            rows_per_second=round(rows / seconds, 2),
            source=config.source,
            out=out,
        )
    )
    report.write(Path(out) / "translate_report.json")
    if failures.failed:
        echo(
            f"warning: {failures.summary()}; their rows are flagged failed (a rerun of the same command retries them)"
        )
    if failures.all_failed():
        raise DataError(
            f"every segment failed ({failures.summary()}): nothing was translated; {out} keeps the rows "
            "flagged failed"
        )
    if config.push_to_hub:
        from lingualift.data_push import push_data

        url = push_data(
            config,
            out,
            what=f"A translation into {tgt.name} ({report.format} format)",
            source=config.source,
            made_by=f"translated by {report.backend} `{report.model}`",
            languages=sorted({tgt.tag, *([config.source_lang] if config.source_lang else [])}),
            counts={"rows by outcome": outcomes, "rows by quality flag": flags or "none"},
        )
        echo(f"pushed to {url}")
    return report


class _Translators:
    """One translator per model (OPUS needs a model per language pair), built on first use."""

    def __init__(self, config: TranslateConfig, backend: str, tgt: Language):
        self.config, self.backend, self.tgt = config, backend, tgt
        self.by_model: dict[str, object] = {}

    def for_source(self, src: Language):
        model = self.config.model or default_model_for(self.backend, src, self.tgt)
        if model not in self.by_model:
            self.by_model[model] = build_translator(self.config, self.backend, model)
        return self.by_model[model]


TOWER_MODEL = "Unbabel/TowerInstruct-7B-v0.2"


def default_model_for(backend: str, src: Language, tgt: Language) -> str | None:
    """The model a backend uses when --model is not given (None: the backend needs one)."""
    from lingualift.translate.backends.seq2seq import default_model

    if backend in SEQ2SEQ:
        return default_model(backend, src, tgt)
    return TOWER_MODEL if backend == "tower" else None


def build_translator(config: TranslateConfig, backend: str, model: str):
    from lingualift.models import default_device

    device = default_device(config.device)
    quantization = quantization_config(config.quant4, config.quant8)
    if backend in SEQ2SEQ:
        if config.ct2:
            from lingualift.translate.backends.ct2 import CT2Translator

            return CT2Translator(
                backend,
                model,
                device=device,
                num_beams=config.num_beams,
                compute_type=config.ct2_compute_type,
                trust_remote_code=config.trust_remote_code,
            )
        from lingualift.translate.backends.seq2seq import Seq2SeqTranslator

        return Seq2SeqTranslator(
            backend,
            model,
            device=device,
            num_beams=config.num_beams,
            quantization=quantization,
            trust_remote_code=config.trust_remote_code,
        )
    if backend == "openai":
        from lingualift.translate.backends.openai import OpenAITranslator

        return OpenAITranslator(
            model,
            base_url=config.base_url,
            api_key_env=config.api_key_env,
            concurrency=config.concurrency,
            prompt_template=config.prompt_template,
        )
    if config.ct2:
        from lingualift.translate.backends.ct2 import CT2LLMTranslator

        return CT2LLMTranslator(
            model,
            backend=backend,
            device=device,
            prompt_template=config.prompt_template,
            compute_type=config.ct2_compute_type,
            trust_remote_code=config.trust_remote_code,
        )
    from lingualift.translate.backends.llm import LLMTranslator

    return LLMTranslator(
        model,
        backend=backend,
        device=device,
        prompt_template=config.prompt_template,
        quantization=quantization,
        trust_remote_code=config.trust_remote_code,
        chat_template=config.chat_template,
    )


def new_token_cap(translator, length: int, limit: int | None = None) -> int:
    """Generated tokens allowed for an input of `length` tokens (a segment's own, see `batch_plans`):
    twice it plus a margin, within the model's length limit (this also ends repetition loops early)."""
    cap = min(2 * length + 16, max(16, translator.max_length - length))
    return min(cap, limit) if limit else cap


class BatchPlan(NamedTuple):
    """One batch to generate: its segments, the longest one's tokens, each segment's own cap on
    generated tokens, and `strict`: a retry with repetition controls."""

    batch: list[Segment]
    longest: int
    caps: list[int]
    strict: bool = False


def batch_plans(
    translator,
    segments: list[Segment],
    budget: int,
    lengths: list[int] | None = None,
    limit: int | None = None,
    *,
    strict: bool = False,
):
    """A `BatchPlan` for each batch of `plan_batches`: `caps`, each segment's own cap on generated
    tokens (`new_token_cap` of its length), so that a short segment beside long ones may write what it
    would alone, and a run batched differently (a resumed one) gives it the same text. (Not enough for
    CTranslate2's Generator: it forwards the longer prompts' tails step by step, which rounds
    differently; see docs/translate.md.)"""
    lengths = lengths if lengths is not None else translator.count_tokens([s.source for s in segments])
    read = [min(n, translator.max_input_tokens * 2) for n in lengths]  # what the model reads of each
    own = {s.key: n for s, n in zip(segments, read)}
    for batch, longest in plan_batches(segments, read, budget):
        yield BatchPlan(batch, longest, [new_token_cap(translator, own[s.key], limit) for s in batch], strict)


class PlanQueue:
    """Batch plans in the order they are to run: plans `put` while batches are checked (retries) run
    before the rest of the first ones."""

    def __init__(self, plans=()):
        self.rest = iter(plans)
        self.front: deque[BatchPlan] = deque()

    def put(self, plans) -> None:
        self.front.extend(plans)

    def take(self) -> BatchPlan | None:
        return self.front.popleft() if self.front else next(self.rest, None)


def plan_batches(segments: list[Segment], lengths: list[int], budget: int):
    """(batch, longest) groups of same-pair segments (already sorted by length) under a padded-token
    budget; `lengths`: their tokens as the model reads them."""
    batch, longest = [], 0
    for segment, length in zip(segments, lengths):
        grown = max(longest, length)
        if batch and (grown * (len(batch) + 1) > budget or len(batch) >= MAX_BATCH_ITEMS):
            yield batch, longest
            batch, grown = [], length
        batch.append(segment)
        longest = grown
    if batch:
        yield batch, longest


def _translate_pending(config, backend, tgt, store, pending, failures, *, progress):
    """Translate the store's pending queue page by page (one language pair per page).

    A segment whose hypothesis looped is not committed with its batch: it waits, still pending, for
    one retry with repetition controls (`retry_with_batch` says when). A kill before that retry
    leaves it pending, so a resumed run translates it the same way.
    """
    from tqdm.auto import tqdm

    from lingualift.hardware import overlap_generation
    from lingualift.models import default_device

    translators = _Translators(config, backend, tgt)
    overlap = overlap_generation(default_device(config.device), backend)
    stats = Counter()
    bar = tqdm(
        total=pending, unit="seg", desc=f"translate → {tgt.name}", disable=not progress, dynamic_ncols=True
    )
    try:
        while True:
            page = store.next_pending(PAGE)
            if not page:
                break
            src_tag = page[0].src
            page = [s for s in page if s.src == src_tag]
            src = get_language(src_tag)
            translator = translators.for_source(src)
            workers = batch_workers(translator, overlap)
            long = _LongSegments(translator, page)
            stats["cut_by_tokens"] += len(long.parts)
            plans = batch_plans(
                translator, long.work, config.batch_tokens, long.lengths, config.max_new_tokens
            )
            page_pass = _PagePass(translator, src, tgt, config, retry_with_batch(workers), plans, long.counts)
            for plan, outputs, span in generated_batches(
                translator, page_pass.queue, src, tgt, workers=workers
            ):
                _commit(store, long.keep(page_pass.checked(plan, outputs, span)), stats, bar, failures)
            pooled = page_pass.pooled_retries()  # none where each batch's retries ran beside the others
            for plan, outputs, span in generated_batches(translator, pooled, src, tgt, workers=workers):
                _commit(store, long.keep(page_pass.checked(plan, outputs, span)), stats, bar, failures)
            stats.update(page_pass.stats)
            stats["seconds"] += _busy_seconds(page_pass.spans + page_pass.retry_spans)
            stats["retry_seconds"] += _busy_seconds(page_pass.retry_spans)
            _commit(store, long.joined(src, tgt), stats, bar, failures)
    finally:
        bar.close()
    return stats


def retry_with_batch(workers: int) -> bool:
    """Retry a batch's looping segments as soon as the batch is checked, beside the first pass's later
    batches, where several batches generate at once on the translator's own workers (CTranslate2 on a
    CPU: otherwise a worker idles beside the page's last first-pass batch, and its retries run in
    exact-prompt-length groups anyway; demo model, 2 cores: 2% faster, in 3 of 4 paired runs). The
    page's batches then run longest first (`_PagePass`; faster in 5 of 7 paired runs, median 8%).
    Elsewhere they are pooled at the page's end and retried together in full batches (on a GPU a
    batch of three costs what a full one does)."""
    return workers > 1


class _PagePass:
    """One page's batches, checked as they come back: a batch's results to commit, and its looping
    segments held back (each keeps its first, flagged hypothesis) until their retry comes back.
    `queue`: the page's first-pass plans, and ahead of them the retries of `early` ones; `counts`: the
    page's token counts by segment key (retries are planned from them, not tokenized again)."""

    def __init__(self, translator, src: Language, tgt: Language, config, early: bool, plans, counts):
        self.translator, self.src, self.tgt, self.config = translator, src, tgt, config
        if early:  # batches side by side: longest first, so that the page does not end on its longest
            # batch and then that batch's retries while the other worker idles (the same batches)
            plans = sorted(plans, key=lambda plan: plan.longest, reverse=True)
        self.early, self.queue, self.counts = early, PlanQueue(plans), counts
        self.first: dict[str, Result] = {}  # looping segments awaiting their retry
        self.looping: list[Segment] = []  # pooled for the page's end (not `early`)
        self.spans: list[tuple[float, float]] = []
        self.retry_spans: list[tuple[float, float]] = []
        self.stats = Counter()

    def retry_plans(self, segments: list[Segment]):
        segments = sorted(segments, key=lambda s: (len(s.source), s.key))
        lengths = [self.counts[s.key] for s in segments]
        budget, limit = self.config.batch_tokens, self.config.max_new_tokens
        return batch_plans(self.translator, segments, budget, lengths, limit, strict=True)

    def pooled_retries(self) -> list[BatchPlan]:
        """Retry plans for the looping segments held for the page's end (not `early`)."""
        segments, self.looping = self.looping, []
        return list(self.retry_plans(segments)) if segments else []

    def checked(self, plan: BatchPlan, outputs, span) -> list[tuple[Segment, Result]]:
        """The results of `plan`'s batch to commit now."""
        results = _results(self.translator, plan.batch, outputs, self.src, self.tgt)
        if plan.strict:
            self.retry_spans.append(span)
            return [self._after_retry(segment, again) for segment, again in results]
        self.spans.append(span)
        self.stats["tokens"] += plan.longest * len(plan.batch)
        done, looped = [], []
        for segment, result in results:
            kept = result
            if "repetition" in result.flags:
                kept = _salvaged(self.translator, segment, result, self.src, self.tgt)
            if kept is None:
                self.first[segment.key] = result
                looped.append(segment)
            else:
                done.append((segment, kept))
                self.stats["salvaged"] += kept is not result
        if looped and self.early:
            self.queue.put(self.retry_plans(looped))
        elif looped:
            self.looping.extend(looped)
        return done

    def _after_retry(self, segment: Segment, again: Result) -> tuple[Segment, Result]:
        """A retry that loops again (or fails) keeps the first, flagged output."""
        first = self.first.pop(segment.key)
        self.stats["retried"] += 1
        usable = again.status == "ok" and "repetition" not in again.flags
        self.stats["still_looping"] += not usable
        return segment, again if usable else first


class _LongSegments:
    """A page's segments over the translator's input limit, cut into parts by its own token count and
    translated with the page's other segments; a segment is committed whole once its parts are done,
    so a kill before that leaves it pending. A part that still exceeds what the model reads (a single
    character over the limit) is flagged `truncated_input`: nothing is cut off without a word."""

    def __init__(self, translator, page: list[Segment]):
        from lingualift.translate.segment import cut_by_tokens

        self.translator = translator
        limit = translator.max_input_tokens
        self.parts: dict[str, tuple[Segment, list[Segment], list[str]]] = {}
        whole, counts = [], {}
        for segment, count in zip(page, translator.count_tokens([s.source for s in page])):
            counts[segment.key] = count
            if count <= limit:
                whole.append(segment)
                continue
            chunks = cut_by_tokens(segment.source, limit, translator.count_tokens)
            parts = [
                Segment(f"{segment.key}#{i}", c.rstrip(), segment.src, segment.tgt)
                for i, c in enumerate(chunks)
            ]
            self.parts[segment.key] = (segment, parts, [c[len(c.rstrip()) :] for c in chunks])
        every_part = [p for _, parts, _ in self.parts.values() for p in parts]
        if every_part:
            counts.update(
                zip((p.key for p in every_part), translator.count_tokens([p.source for p in every_part]))
            )
        self.work = sorted(whole + every_part, key=lambda s: (len(s.source), s.key)) if self.parts else page
        self.lengths = [counts[s.key] for s in self.work]
        self.counts = counts
        self.results: dict[str, Result] = {}
        self.part_keys = {p.key for p in every_part}

    def keep(self, results: list[tuple[Segment, Result]]) -> list[tuple[Segment, Result]]:
        """The results to commit now; parts are held until their segment is joined."""
        self.results.update({s.key: r for s, r in results if s.key in self.part_keys})
        return [(s, r) for s, r in results if s.key not in self.part_keys]

    def joined(self, src: Language, tgt: Language) -> list[tuple[Segment, Result]]:
        out = []
        for segment, parts, spaces in self.parts.values():
            results = [self.results[p.key] for p in parts]
            failed = next((r for r in results if r.status == "failed"), None)
            if failed is not None:
                out.append((segment, Result(None, ["failed"], "failed", failed.translator, failed.error)))
                continue
            text = "".join(r.output + space for r, space in zip(results, spaces)).rstrip()
            extra = sorted({f for r in results for f in r.flags})
            if any(self.counts[p.key] > self.translator.max_input_tokens * 2 for p in parts):
                extra.append("truncated_input")
            out.append((segment, _result(self.translator, segment, text, extra, src, tgt)))
        return out


def _commit(
    store: TranslationStore, results: list[tuple[Segment, Result]], stats: Counter, bar, failures
) -> None:
    """Store finished segments; stop the run when every segment so far failed the same way (a wrong
    --base-url, a missing model): the failed ones are kept in the store and retried by the next run."""
    if not results:
        return
    store.commit_batch(results)
    stats["segments"] += len(results)
    stats["failed"] += sum(r.status == "failed" for _, r in results)
    bar.update(len(results))
    for _, result in results:
        failures.record(result.error or "failed" if result.status == "failed" else None)
    reason = failures.hopeless()
    if reason:
        raise DataError(
            f"stopped: the first {sum(failures.failed.values())} segments all failed with {reason} — fix "
            "that and run the same command again (failed segments are retried)"
        )


def batch_workers(translator, overlap: bool) -> int:
    """Batches generating at once in worker threads: as many as the translator runs in parallel
    (CTranslate2 on CPU: two), else one ahead where the model runs off the CPU (`overlap`), else
    none (in line)."""
    parallel = getattr(translator, "parallel_batches", 1)
    return parallel if parallel > 1 else int(overlap)


def _timed_generate(translator, plan: BatchPlan, src: Language, tgt: Language):
    """(`_generate`'s outputs for `plan`, (start, end) of the generation on the perf_counter clock)."""
    begin = time.perf_counter()
    outputs = _generate(translator, plan.batch, src, tgt, plan.caps, strict=plan.strict)
    return outputs, (begin, time.perf_counter())


def _busy_seconds(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one batch was generating (batches in flight together count once)."""
    busy, reach = 0.0, float("-inf")
    for begin, end in sorted(spans):
        if end > reach:
            busy += end - max(begin, reach)
            reach = end
    return busy


def generated_batches(translator, plans, src: Language, tgt: Language, *, workers: int):
    """(plan, outputs, (start, end) of its generation) for each `BatchPlan`, in the order taken.

    `plans`: an iterable, or a `PlanQueue` the caller may `put` more plans into while it checks the
    batches yielded (each is taken when a batch is next submitted). With `workers`, that many batches
    generate at once in worker threads while the caller checks and commits the one before them (torch
    and CTranslate2 release the GIL while they compute). Commits stay in the caller, in order, so a
    kill loses at most the batches in flight, still pending in the store. Without, the batches run in
    line."""
    queue = plans if isinstance(plans, PlanQueue) else PlanQueue(plans)
    if not workers:
        while (plan := queue.take()) is not None:
            yield plan, *_timed_generate(translator, plan, src, tgt)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lingualift-translate")
    try:
        ahead = deque()
        while True:
            # `workers` batches generating while the oldest is checked
            while len(ahead) <= workers and (plan := queue.take()) is not None:
                ahead.append((plan, pool.submit(_timed_generate, translator, plan, src, tgt)))
            if not ahead:
                return
            plan, future = ahead.popleft()
            yield plan, *future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _generate(translator, batch: list[Segment], src: Language, tgt: Language, cap, *, strict: bool = False):
    """The translator's outputs for a batch (`cap`: one cap on generated tokens, or one per segment); on
    failure it is split in halves down to single segments, and a single segment's failure becomes its
    error message (a str) in place of an output."""
    failure = None
    try:
        outputs = translator.translate([s.source for s in batch], src, tgt, max_new_tokens=cap, strict=strict)
        if len(outputs) != len(batch):
            raise RuntimeError(f"translator returned {len(outputs)} outputs for {len(batch)} inputs")
    except LinguaLiftError:
        raise  # a configuration problem, not a data problem: stop with its message
    except Exception as error:  # noqa: BLE001 — any failure of the model call is this batch's
        failure = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]
    if failure is None:
        return outputs
    # retried outside the except block: its traceback held the failed call's frames (KV cache,
    # logits), so an out-of-memory batch's halves ran out of memory again down to single rows
    release_memory()
    if len(batch) == 1:
        return [failure]
    middle = len(batch) // 2
    first, second = (cap, cap) if isinstance(cap, int) else (cap[:middle], cap[middle:])
    return _generate(translator, batch[:middle], src, tgt, first, strict=strict) + _generate(
        translator, batch[middle:], src, tgt, second, strict=strict
    )


def release_memory() -> None:
    """Give the memory of a failed generation back before the retry: collect its objects and return
    the GPU allocator's cached blocks (where torch is loaded and has CUDA)."""
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _results(
    translator, batch: list[Segment], outputs, src: Language, tgt: Language
) -> list[tuple[Segment, Result]]:
    """Quality flags for each output of `_generate` (failures become failed results)."""
    return [
        (
            s,
            Result(None, ["failed"], "failed", translator.name, o)
            if isinstance(o, str)
            else _result(translator, s, o.text, o.flags, src, tgt),
        )
        for s, o in zip(batch, outputs)
    ]


# flags that say a salvaged prefix is not a whole translation of the segment
NOT_WHOLE = {"empty", "repetition", "length_ratio", "echo", "lost_placeholder"}
SENTENCE_END = tuple(".?!:;。？！")
# a whole translation in a script like the source's is rarely under this share of its length (the
# length-ratio flag allows 0.3, which lets a half sentence through)
WHOLE_SHARE = 0.6


def _salvaged(translator, segment: Segment, looped: Result, src: Language, tgt: Language) -> Result | None:
    """A hypothesis that looped after it had written a full translation keeps the text before the
    loop (flagged `repetition_trimmed`); otherwise None, and the segment is retried. Full means: it
    passes the length-ratio, language and placeholder checks on its own, ends a sentence where the
    source does, and (same script class) is at least WHOLE_SHARE of the source's length. On the demo
    model the looser test (ratio and language only) kept half sentences like "Het is het" and the
    tuned model's usable replies fell from 73% to 43%."""
    from lingualift.translate.quality import DENSE_SCRIPTS

    extra = [f for f in looped.flags if f != "repetition"] + ["repetition_trimmed"]
    same_density = (src.script in DENSE_SCRIPTS) == (tgt.script in DENSE_SCRIPTS)
    for prefix in loop_free_prefixes(looped.output or ""):
        if segment.source.rstrip().endswith(SENTENCE_END) and not prefix.endswith(SENTENCE_END):
            continue
        if same_density and len(prefix) < WHOLE_SHARE * len(segment.source.strip()):
            continue
        result = _result(translator, segment, prefix, extra, src, tgt)
        if not NOT_WHOLE & set(result.flags) and not any(
            f.startswith("wrong_language") for f in result.flags
        ):
            return result
    return None


def _result(
    translator, segment: Segment, text: str, extra: list[str], src: Language, tgt: Language
) -> Result:
    wanted = set(PLACEHOLDER_RE.findall(segment.source))
    intact = wanted <= set(PLACEHOLDER_RE.findall(text))
    flags = segment_flags(
        segment.source,
        text,
        source_lang=src.tag,
        target_lang=tgt.tag,
        source_script=src.script,
        target_script=tgt.script,
        placeholders_intact=intact,
    )
    return Result(text, flags + [f for f in extra if f not in flags], "ok", translator.name)


def _wait_for_ranks(work: Path, world: int, echo, timeout: float = 7 * 24 * 3600) -> None:
    missing = [r for r in range(world) if not (work / f"done-{r}-of-{world}.json").exists()]
    if missing:
        echo(f"waiting for ranks {missing} to finish their shards ...")
    deadline = time.monotonic() + timeout
    while missing and time.monotonic() < deadline:
        time.sleep(2)
        missing = [r for r in range(world) if not (work / f"done-{r}-of-{world}.json").exists()]
    if missing:
        raise DataError(f"ranks {missing} did not finish: run them again, then rank 0")
