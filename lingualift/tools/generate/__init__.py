"""`lingualift generate`: grounded question–answer conversations from raw target-language text.

documents → clean (whitespace, boilerplate lines repeated across documents, too short, duplicate)
→ chunks below a token limit (paragraphs, then sentences) → an LLM (local model or any
OpenAI-compatible endpoint) writes question–answer pairs about each chunk as JSON → parse (JSON,
then json-repair; unparsable replies counted) → validate (empty, answer language, grounding in
the chunk, duplicate question) → `messages` conversations + an OpenAI chat-format JSONL.

Every reply is stored in SQLite as soon as it arrives (keyed by chunk text and generator
settings), so a re-run resumes; failed requests are retried by the next run. Nothing is dropped:
skipped documents are listed in the report, rejected pairs and unparsable replies go to the
`rejected` split with their reason.
"""

from lingualift.tools.generate.config import GenerateConfig

__all__ = ["GenerateConfig"]  # the run: lingualift.tools.generate.run.generate_conversations
