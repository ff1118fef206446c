"""`lingualift serve`: an OpenAI-compatible API and a chat page on 127.0.0.1."""

from __future__ import annotations

from typing import Annotated

import typer

from lingualift.serve.config import ServeConfig
from lingualift.stage import Stage
from lingualift.stages.arguments import MODEL_ARGUMENT


def command(config: ServeConfig, model: Annotated[str, MODEL_ARGUMENT]) -> None:
    """Serve a model over an OpenAI-compatible API (/v1/models, /v1/chat/completions with SSE
    streaming) and a web chat page at /. Listens on 127.0.0.1 unless --host says otherwise."""
    import signal

    from lingualift.serve.server import start_server

    def stop(signum, frame):  # SIGTERM (a service manager, `kill`) ends it as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    server = start_server(config, echo=typer.echo)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()


STAGE = Stage("serve", ServeConfig, command=command)
