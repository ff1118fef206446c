"""One language registry: user codes and names in, each MT family's own code out.

Users write `nl`, `nld`, `Dutch`, `pt-BR`, `zh-Hant`; backends want `nld_Latn` (NLLB), `nl`
(M2M100), `nl_XX` (mBART-50), `<2nl>` (MADLAD-400), `nld` (SeamlessM4T v2), or an OPUS-MT model
name. Normalisation is done by `langcodes`; the family code lists live in `language_codes`.

Matching rule: same macrolanguage and same script, then the closest variant. A macrolanguage
(`ar`, `zh`, `fa`, `no`) only maps to its standard member (`arb`, `cmn`, `pes`, `nb`), never to
another variety (Cantonese is not "Chinese (Traditional)"), and a script never changes silently.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache

import langcodes

from lingualift import language_codes as codes
from lingualift.errors import LanguageError

# Backends whose codes come from a published list (one entry per family), and backends that
# take any language by its English name in a prompt.
MT_FAMILIES = ("nllb", "m2m", "mbart", "madlad", "seamless", "opus", "tower")
PROMPT_BACKENDS = ("llm", "openai")
BACKENDS = MT_FAMILIES + PROMPT_BACKENDS

# The standard member of a macrolanguage: what `ar` or `zh` means when a family only lists
# individual languages. Anything not listed here is never substituted for the macrolanguage.
STANDARD_MEMBER = {
    "ar": "arb",
    "zh": "cmn",
    "fa": "pes",
    "ms": "zsm",
    "sw": "swh",
    "lv": "lvs",
    "et": "ekk",
    "az": "azj",
    "uz": "uzn",
    "mn": "khk",
    "ne": "npi",
    "or": "ory",
    "ps": "pbt",
    "om": "gaz",
    "yi": "ydd",
    "sq": "als",
    "qu": "quy",
    "ku": "kmr",
    "mg": "plt",
    "ff": "fuv",
    "kr": "knc",
    "no": "nb",
    "ak": "twi",
    "gn": "gug",
    "lah": "pnb",
}
# Memberships langcodes does not fold itself (Norwegian Bokmål/Nynorsk, Pashto, Sotho code).
EXTRA_MACRO = {"nb": "no", "nn": "no", "pbt": "ps", "pbu": "ps"}
# Codes a family uses that are not the ISO code of what it means.
FAMILY_ALIASES = {"m2m": {"ns": "nso"}, "tower": {}}

# TowerInstruct-7B-v0.2's languages (its model card).
TOWER = "en de fr nl it es pt ko ru zh".split()
# OPUS-MT's `jap` (Bible-corpus models) is the ISO code of Jaruára, not Japanese, and langcodes
# does not know it: never offer it for a language.
OPUS_UNMAPPED = {"jap"}
# OPUS-MT codes that name a group of languages, not one language.
OPUS_GROUPS = set(
    "aav afa alv art bat bnt cau ccs cel cpf cpp cus dra euq fiu gem gmq gmw grk iir inc ine itc "
    "map mkh mul nic phi poz pqe pqw roa sal sem sit sla tut urj zle zls zlw trk taw ber ZH NORWAY "
    "SAMI en_el_es_fi fi_nb_no_nn_ru_sv_en".split()
)


@dataclass(frozen=True)
class Language:
    """A normalised language: BCP-47 `tag` plus what each backend needs to know."""

    tag: str
    raw: str  # the language subtag as given (individual language, e.g. `arb`)
    macro: str  # its macrolanguage (`ar`), or itself
    script: str
    region: str | None = None

    @property
    def name(self) -> str:
        """English name, used in prompts and tables: `Dutch`, `Chinese (Traditional)`."""
        return langcodes.Language.get(self.tag).display_name()

    @property
    def key(self) -> tuple[str, str]:
        return (self.macro, self.script)

    @property
    def alpha3(self) -> str:
        """ISO 639-3 code of the individual language (`nld`, `cmn` for Chinese)."""
        member = self.raw if self.raw != self.macro else STANDARD_MEMBER.get(self.macro, self.raw)
        return langcodes.Language.get(member).to_alpha3()


def _normalise(tag: str) -> Language:
    lang = langcodes.Language.get(langcodes.standardize_tag(tag))
    raw = lang.language or "und"
    macro_tag = langcodes.Language.get(langcodes.standardize_tag(tag, macro=True))
    macro = EXTRA_MACRO.get(macro_tag.language, macro_tag.language) or raw
    script = lang.script or macro_tag.maximize().script or lang.maximize().script or ""
    tag = lang.simplify_script().to_tag()
    return Language(tag=tag, raw=raw, macro=macro, script=script, region=lang.territory)


def _family_tag(family: str, code: str) -> str:
    """The BCP-47 tag a family code stands for."""
    if family == "mbart":
        # mBART's suffixes are not regions (`ar_AR` is Arabic, not Arabic in Argentina)
        lang = code.split("_")[0]
        return "zh-Hans" if lang == "zh" else lang
    code = FAMILY_ALIASES.get(family, {}).get(code, code)
    return code.replace("_", "-")


def _family_codes(family: str) -> list[str]:
    if family == "opus":
        return sorted({c for pair in opus_pairs() for c in pair} - OPUS_GROUPS - OPUS_UNMAPPED)
    return {
        "nllb": codes.NLLB,
        "m2m": codes.M2M100,
        "mbart": codes.MBART50,
        "madlad": codes.MADLAD400,
        "seamless": codes.SEAMLESS_M4T_V2,
        "tower": TOWER,
    }[family]


def _display_code(family: str, code: str) -> str:
    return f"<2{code}>" if family == "madlad" else code


@cache
def _family_index(family: str) -> dict[tuple[str, str], list[tuple[str, Language]]]:
    index: dict[tuple[str, str], list[tuple[str, Language]]] = {}
    for code in _family_codes(family):
        lang = _normalise(_family_tag(family, code))
        index.setdefault(lang.key, []).append((code, lang))
    return index


def _accepts(user: Language, cand: Language) -> bool:
    if user.raw == cand.raw:
        return True
    standard = STANDARD_MEMBER.get(user.macro)
    # `ar` may become `arb`, and `arb` may become `ar`; `ary` never becomes `ar`.
    return {user.raw, cand.raw} <= {user.macro, standard}


@cache
def _name_vocabulary() -> dict[str, str]:
    """Lower-cased names and codes of every language any family knows, for suggestions."""
    vocab: dict[str, str] = {}
    for family in MT_FAMILIES:
        for code, lang in (e for entries in _family_index(family).values() for e in entries):
            vocab[lang.name.lower()] = lang.tag
            vocab[code.lower()] = lang.tag
            vocab[lang.tag.lower()] = lang.tag
    return vocab


def get_language(text: str) -> Language:
    """Parse a code (`nl`, `nld`, `pt-BR`, `zh-Hant`) or English name (`Dutch`)."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise LanguageError("empty language code: pass an ISO code like 'nl' or a name like 'Dutch'")
    candidate = None
    try:
        candidate = langcodes.Language.get(cleaned.replace("_", "-"))
        if not candidate.is_valid() or not langcodes.tag_is_valid(candidate.to_tag()):
            candidate = None
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        candidate = None
    if candidate is None or candidate.language in (None, "und"):
        try:
            candidate = langcodes.find(cleaned)
        except LookupError:
            candidate = None
    if candidate is None or not candidate.language or candidate.language == "und":
        raise LanguageError(f"unknown language '{text}'{_did_you_mean(cleaned)}")
    return _normalise(candidate.to_tag())


def _did_you_mean(text: str) -> str:
    vocab = _name_vocabulary()
    close = difflib.get_close_matches(text.lower(), vocab.keys(), n=5, cutoff=0.6)
    tags = list(dict.fromkeys(vocab[c] for c in close))
    if not tags:
        return " — see `lingualift languages` for the supported codes"
    shown = ", ".join(f"{t} ({_normalise(t).name})" for t in tags[:3])
    return f" — did you mean {shown}?"


def backend_code(language: str | Language, backend: str) -> str:
    """The code `backend` uses for `language`; LanguageError naming the nearest if unsupported."""
    lang = get_language(language) if isinstance(language, str) else language
    if backend in PROMPT_BACKENDS:
        return lang.name
    if backend not in MT_FAMILIES:
        raise LanguageError(f"unknown backend '{backend}': choose one of {', '.join(BACKENDS)}")
    entries = [(c, cand) for c, cand in _family_index(backend).get(lang.key, []) if _accepts(lang, cand)]
    if not entries:
        raise LanguageError(
            f"{backend} does not support {lang.name} ({lang.tag}){_nearest_in_family(lang, backend)}"
        )

    # Prefer no regional variety the user did not ask for (`fa` is Iranian Persian, not Dari),
    # then the exact individual language, then the closest tag.
    def rank(entry: tuple[str, Language]) -> tuple[bool, bool, int]:
        cand = entry[1]
        other_region = cand.region is not None and cand.region != lang.region
        return (other_region, cand.raw != lang.raw, langcodes.tag_distance(lang.tag, cand.tag))

    return _display_code(backend, min(entries, key=rank)[0])


def _nearest_in_family(lang: Language, family: str) -> str:
    entries = [e for entries in _family_index(family).values() for e in entries]
    # same macrolanguage, or a broader name (`Arabic` for `Moroccan Arabic`)
    same = [
        e for e in entries if e[1].macro == lang.macro or f" {e[1].name.lower()}" in f" {lang.name.lower()}"
    ]
    names = {e[1].name.lower(): e for e in entries}
    close = [names[n] for n in difflib.get_close_matches(lang.name.lower(), names, n=3, cutoff=0.6)]
    nearest = list(dict.fromkeys(same + close))[:4]
    if not nearest:
        return f" — `lingualift languages --backend {family}` lists what it supports"
    shown = ", ".join(f"{_display_code(family, c)} ({cand.name})" for c, cand in nearest)
    return f" — nearest supported: {shown}"


def supported_languages(backend: str) -> list[tuple[str, Language]]:
    """Every (backend code, language) the backend supports, sorted by English name."""
    if backend in PROMPT_BACKENDS:
        return []
    if backend not in MT_FAMILIES:
        raise LanguageError(f"unknown backend '{backend}': choose one of {', '.join(BACKENDS)}")
    entries = [e for entries in _family_index(backend).values() for e in entries]
    return sorted(((_display_code(backend, c), lang) for c, lang in entries), key=lambda e: e[1].name)


@cache
def opus_pairs() -> frozenset[tuple[str, str]]:
    """(source, target) OPUS codes of every published `Helsinki-NLP/opus-mt-*` model."""
    pairs, source = set(), None
    for token in codes.OPUS_MT_PAIRS.replace("|", " ").split():
        if token.endswith(":"):
            source = token[:-1]
        else:
            pairs.add((source, token))
    return frozenset(pairs)


def _opus_code(lang: Language) -> str | None:
    try:
        return backend_code(lang, "opus")
    except LanguageError:
        return None


@dataclass(frozen=True)
class OpusRoute:
    model: str
    target_token: str | None  # `>>nld<<` for multilingual models, None for one-target models


def opus_model(source: str | Language, target: str | Language) -> OpusRoute:
    """The OPUS-MT model for a pair: a direct pair model, else `en-mul`/`mul-en` with a token.

    Multilingual routes must still be checked against the model's vocabulary when it loads:
    only the model knows which `>>xxx<<` targets it was trained on.
    """
    src = get_language(source) if isinstance(source, str) else source
    tgt = get_language(target) if isinstance(target, str) else target
    s, t = _opus_code(src), _opus_code(tgt)
    if (s, t) in opus_pairs():
        return OpusRoute(f"Helsinki-NLP/opus-mt-{s}-{t}", None)
    if s == "en":
        token = f">>{tgt.alpha3}_{tgt.script}<<" if tgt.macro == "zh" else f">>{tgt.alpha3}<<"
        return OpusRoute("Helsinki-NLP/opus-mt-en-mul", token)
    if t == "en":
        return OpusRoute("Helsinki-NLP/opus-mt-mul-en", None)
    raise LanguageError(
        f"no OPUS-MT model translates {src.name} to {tgt.name} directly, and pivoting through "
        "English degrades quality: choose --backend nllb, m2m or madlad for this pair"
    )
