"""Why an answer (or a native prompt) is not kept: each check returns a reason or None.

Answer checks, in order: cut_off (the teacher hit --max-new-tokens), degeneracy (fidelity's rules:
empty, loop, prompt_copy), refusal and assistant boilerplate (a short list per language, plus a
user file), the reply's language (line-level, as fidelity measures it), length bounds."""

from __future__ import annotations

from pathlib import Path

from lingualift.languages import Language

# Phrases a teacher writes instead of an answer, or around one: refusals, "as an AI", knowledge-
# cutoff notes, the teacher naming itself. Lowercase; matched as substrings.
REFUSALS = {
    "en": (
        "as an ai language model",
        "as a language model",
        "as an ai assistant",
        "i'm sorry, but i can't",
        "i am sorry, but i cannot",
        "i cannot fulfill",
        "i can't assist with",
        "my knowledge cutoff",
        "as of my last update",
        "as of my knowledge",
        "i am chatgpt",
        "i'm chatgpt",
        "developed by openai",
        "trained by openai",
    ),
    "nl": (
        "als ai-taalmodel",
        "als een ai-taalmodel",
        "als taalmodel",
        "het spijt me, maar ik kan",
        "mijn kennis loopt tot",
    ),
    "de": ("als ki-sprachmodell", "als sprachmodell", "es tut mir leid, aber ich kann", "mein wissensstand"),
    "fr": ("en tant que modèle de langage", "en tant qu'ia", "je suis désolé, mais je ne peux pas"),
    "es": ("como modelo de lenguaje", "como una ia", "lo siento, pero no puedo"),
    "it": ("come modello linguistico", "in quanto intelligenza artificiale", "mi dispiace, ma non posso"),
    "pt": ("como um modelo de linguagem", "como uma ia", "desculpe, mas não posso"),
}
# What the teacher is told, in the language where we have it (else in English).
SYSTEM_PROMPTS = {
    "nl": "Je bent een behulpzame assistent. Antwoord altijd in het Nederlands, ook als de vraag in een andere taal is gesteld.",
    "de": "Du bist ein hilfreicher Assistent. Antworte immer auf Deutsch, auch wenn die Frage in einer "
    "anderen Sprache gestellt wird.",
    "fr": "Tu es un assistant serviable. Réponds toujours en français, même si la question est posée dans une autre langue.",
    "es": "Eres un asistente útil. Responde siempre en español, aunque la pregunta esté en otro idioma.",
    "it": "Sei un assistente disponibile. Rispondi sempre in italiano, anche se la domanda è in un'altra lingua.",
    "pt": "Você é um assistente prestativo. Responda sempre em português, mesmo que a pergunta esteja em outro idioma.",
}


def system_prompt(lang: Language, given: str | None) -> str:
    if given:
        return given
    return SYSTEM_PROMPTS.get(lang.macro) or (
        f"You are a helpful assistant. Always answer in {lang.name}, even when the question is in another language."
    )


def phrases(lang: Language, boilerplate_file: str | None) -> tuple[list[str], list[str]]:
    """(refusal phrases, user phrases): English's and the language's, and the user file's lines."""
    refusals = [*REFUSALS["en"], *REFUSALS.get(lang.macro, ())]
    extra = []
    if boilerplate_file:
        extra = [
            line.strip().lower() for line in Path(boilerplate_file).read_text(encoding="utf-8").splitlines()
        ]
        extra = [line for line in extra if line and not line.startswith("#")]
    return refusals, extra


def answer_reason(
    reply: str,
    prompt: str,
    lang: Language,
    *,
    cut_off: bool,
    refusals: list[str],
    extra: list[str],
    min_chars: int,
    max_chars: int | None,
) -> str | None:
    from lingualift.evaluate.fidelity import degeneracy, judge_reply

    if cut_off:
        return "cut_off"
    degenerate = degeneracy(reply, prompt)
    if degenerate:
        return degenerate
    lowered = " ".join(reply.lower().split())
    if any(p in lowered for p in refusals):
        return "refusal"
    if any(p in lowered for p in extra):
        return "boilerplate"
    if not judge_reply(reply, lang).passed:
        return "wrong_language"
    if len(reply.strip()) < min_chars:
        return "too_short"
    if max_chars is not None and len(reply) > max_chars:
        return "too_long"
    return None


def prompt_reason(prompt: str, lang: Language, confidence: float | None) -> str | None:
    """Native prompts (tagengo): identified as the language with at least `confidence`."""
    if confidence is None:
        return None
    from lingualift.language_id import active, normal

    identifier = active()
    if not identifier.knows(lang.macro):  # said once by respond; never a silent rejection of every prompt
        return None
    label, score = identifier.identify(" ".join(prompt.split()))
    if label not in (normal(lang.macro), normal(lang.raw)) or score < confidence:
        return "prompt_language"
    return None


def tokens(text: str) -> int:
    """4 characters a token: the estimate `--max-tokens` and the cost use (no tokenizer needed)."""
    return -(-len(text) // 4)
