"""`lingualift respond`: a teacher writes every answer of the conversations afresh, in the language.

The Bactrian-X recipe (translated prompts, a chat model answers them in the language) and Suzume's
(native prompts, a strong model answers): prompts from any format `threads` reads → one request per
assistant turn, given the conversation so far with the teacher's own earlier answers → filters
(reply language, degeneracy, refusals and boilerplate, length; for native prompts their language
confidence, prompt + answer tokens and a cap) → `train` and `rejected` splits, and optionally
preference pairs whose chosen answer is in the language and rejected one is not.

Every reply is stored in SQLite as it arrives (keyed by teacher settings and the conversation so
far), so a re-run resumes, an identical prompt is answered once and failed requests are retried.
"""

from lingualift.tools.respond.config import RespondConfig

__all__ = ["RespondConfig"]  # the run: lingualift.tools.respond.run.respond
