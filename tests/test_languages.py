import pytest

from lingualift import languages as registry
from lingualift.errors import LanguageError


@pytest.mark.parametrize("family", registry.MT_FAMILIES)
def test_every_family_code_round_trips_through_its_language(family):
    """Each published code, read back as a language, maps to a code of that same language."""
    failures = []
    for code in registry._family_codes(family):
        tag = registry._family_tag(family, code)
        got = registry.backend_code(tag, family)
        expected = registry._display_code(family, code)
        if (
            got != expected
            and registry.get_language(tag).key
            != registry.get_language(
                registry._family_tag(family, got.strip("<2>") if family == "madlad" else got)
            ).key
        ):
            failures.append((code, got))
    assert failures == []


@pytest.mark.parametrize(
    "family, minimum",
    [("nllb", 202), ("m2m", 100), ("mbart", 52), ("madlad", 400), ("seamless", 96), ("opus", 150)],
)
def test_families_cover_their_published_language_lists(family, minimum):
    assert len(registry.supported_languages(family)) >= minimum


@pytest.mark.parametrize(
    "user, backend, code",
    [
        ("nl", "nllb", "nld_Latn"),
        ("Dutch", "m2m", "nl"),
        ("nld", "mbart", "nl_XX"),
        ("nl", "madlad", "<2nl>"),
        ("nl", "seamless", "nld"),
        ("nl", "opus", "nl"),
        ("pt-BR", "nllb", "por_Latn"),
        ("pt-BR", "mbart", "pt_XX"),
        ("zh", "nllb", "zho_Hans"),
        ("zh-Hans", "seamless", "cmn"),
        ("zh-Hant", "nllb", "zho_Hant"),
        ("zh-TW", "seamless", "cmn_Hant"),
        ("zh", "mbart", "zh_CN"),
        ("ar", "nllb", "arb_Arab"),
        ("ary", "nllb", "ary_Arab"),
        ("fa", "nllb", "pes_Arab"),
        ("fa-AF", "nllb", "prs_Arab"),
        ("no", "nllb", "nob_Latn"),
        ("nb", "madlad", "<2no>"),
        ("ps", "nllb", "pbt_Arab"),
        ("nso", "m2m", "ns"),  # M2M100 writes Northern Sotho as `ns`
        ("German", "tower", "de"),
        ("nl", "llm", "Dutch"),
        ("pt-BR", "openai", "Portuguese (Brazil)"),
    ],
)
def test_user_codes_map_to_each_backends_code(user, backend, code):
    assert registry.backend_code(user, backend) == code


@pytest.mark.parametrize(
    "user, backend, nearest",
    [
        ("zh-Hant", "m2m", "zh (Chinese)"),  # Chinese must not silently become the other script
        ("zh-Hant", "mbart", "zh_CN"),
        ("zh-Hant", "madlad", "<2zh>"),  # MADLAD lists Cantonese (yue, Hant): never substituted
        ("yue", "m2m", "does not support Cantonese"),
        ("ary", "m2m", "ar (Arabic)"),  # a dialect never silently becomes the standard language
        ("nn", "madlad", "<2no>"),
    ],
)
def test_unsupported_language_names_the_nearest_supported_codes(user, backend, nearest):
    with pytest.raises(LanguageError) as caught:
        registry.backend_code(user, backend)
    assert nearest in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text, suggestion",
    [("Dutsch", "nl (Dutch)"), ("Englsh", "en (English)"), ("xx", "lingualift languages")],
)
def test_unknown_language_is_an_error_with_suggestions(text, suggestion):
    with pytest.raises(LanguageError) as caught:
        registry.get_language(text)
    assert suggestion in str(caught.value)


def test_empty_language_code_is_an_error():
    with pytest.raises(LanguageError):
        registry.get_language("  ")


def test_unknown_backend_is_an_error():
    with pytest.raises(LanguageError, match="unknown backend"):
        registry.backend_code("nl", "bing")


@pytest.mark.parametrize(
    "tag, name, alpha3",
    [("nl", "Dutch", "nld"), ("zh-Hant", "Chinese (Traditional)", "cmn"), ("ar", "Arabic", "arb")],
)
def test_language_names_and_iso639_3(tag, name, alpha3):
    language = registry.get_language(tag)
    assert (language.name, language.alpha3) == (name, alpha3)


@pytest.mark.parametrize(
    "source, target, model, token",
    [
        ("en", "nl", "Helsinki-NLP/opus-mt-en-nl", None),
        ("nl", "en", "Helsinki-NLP/opus-mt-nl-en", None),
        ("en", "ja", "Helsinki-NLP/opus-mt-en-mul", ">>jpn<<"),
        ("en", "zh-Hant", "Helsinki-NLP/opus-mt-en-mul", ">>cmn_Hant<<"),
        ("ja", "en", "Helsinki-NLP/opus-mt-ja-en", None),
    ],
)
def test_opus_model_routes(source, target, model, token):
    route = registry.opus_model(source, target)
    assert (route.model, route.target_token) == (model, token)


def test_opus_pair_without_model_refuses_instead_of_pivoting():
    with pytest.raises(LanguageError, match="no OPUS-MT model translates Dutch to Japanese"):
        registry.opus_model("nl", "ja")


def test_opus_never_offers_its_misleading_codes_for_a_language():
    assert registry.backend_code("ja", "opus") == "ja"
    codes = {code for code, _ in registry.supported_languages("opus")}
    assert "jap" not in codes
    # bzs is Brazilian Sign Language in OPUS, and must not serve Brazilian Portuguese.
    assert registry.backend_code("pt-BR", "opus") == "pt"
