"""Options of `lingualift serve`, declared once."""

from __future__ import annotations

from typing import Optional

from pydantic import ConfigDict, Field

from lingualift.models import ModelPlacement


class ServeConfig(ModelPlacement):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Chat model: hub id, local directory (merged or adapter), or `demo`")
    adapter: Optional[str] = Field(None, description="LoRA adapter on top of MODEL")
    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 exposes it to the network)")
    port: int = Field(8000, ge=0, le=65535, description="Port (0: any free port, printed at start)")
    api_key_env: Optional[str] = Field(
        None, description="Require `Authorization: Bearer <key>`, the key read from this environment variable"
    )
    max_queue: int = Field(8, gt=0, description="Requests waiting or running at once; more get HTTP 429")
    max_tokens_limit: int = Field(2048, gt=0, description="Largest max_tokens a request may ask for")
    default_max_tokens: int = Field(256, gt=0, description="max_tokens when a request gives none")
