"""CLI options generated from a stage's pydantic config: one declaration per option.

`config_command(app, TrainConfig, ...)` registers a typer command whose flags are the config's
fields (name → `--kebab-name`, description → help, default → default), plus the decorated
function's own parameters (positional arguments, options that are not part of the config). The
command builds the config (a validation problem becomes one ConfigError line naming the field)
and calls the function with it. The pipeline YAML builds the very same config objects.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional

import typer
from pydantic import BaseModel, ValidationError

from lingualift.errors import config_error


def _cli_type(annotation: Any) -> Any:
    """Literal choices (also inside a list) become str: pydantic checks the choice and names the field."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return str
    if origin is list:
        return list[_cli_type(typing.get_args(annotation)[0])]
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return Optional[_cli_type(inner[0])]
    return annotation


def _choices(annotation: Any) -> str:
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is Literal:
            return " (" + ", ".join(str(c) for c in typing.get_args(candidate)) + ")"
    return ""


def config_parameters(
    config_cls: type[BaseModel], *, flags: dict[str, str] | None = None, exclude: tuple[str, ...] = ()
) -> list[inspect.Parameter]:
    """One keyword parameter per config field, annotated with its typer Option."""
    flags = flags or {}
    parameters = []
    for name, field in config_cls.model_fields.items():
        if name in exclude:
            continue
        help_text = (field.description or "").rstrip(".") + _choices(field.annotation) + "."
        own_flag = (
            (field.json_schema_extra or {}).get("flag") if isinstance(field.json_schema_extra, dict) else None
        )
        declared = list((flags.get(name) or own_flag or "").split())
        if not declared and field.annotation is bool:
            dashed = name.replace("_", "-")
            declared = [f"--{dashed}/--no-{dashed}"]
        option = typer.Option(*declared, help=help_text, show_default=not field.is_required())
        default = inspect.Parameter.empty if field.is_required() else field.default
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[_cli_type(field.annotation), option],
            )
        )
    return parameters


def build_config(config_cls: type[BaseModel], values: dict, *, where: str = ""):
    try:
        return config_cls(**values)
    except ValidationError as error:
        raise config_error(error, where=where) from error


def config_command(
    app: typer.Typer,
    config_cls: type[BaseModel],
    *,
    name: str | None = None,
    flags: dict[str, str] | None = None,
) -> Callable:
    """Decorator: `func(config, **own_parameters)` becomes a command with the config's options.

    `flags` renames a field's flag (e.g. `{"full": "--full/--lora", "out": "--out -o"}`). A parameter of `func` named
    like a field replaces that field's option (e.g. a positional `method` argument) and is passed
    to the config as well.
    """

    def register(func: Callable) -> Callable:
        own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name != "config"]
        own_names = {p.name for p in own}
        field_parameters = config_parameters(config_cls, flags=flags, exclude=tuple(own_names))
        field_names = set(config_cls.model_fields)

        def command(**values):
            config = build_config(config_cls, {k: v for k, v in values.items() if k in field_names})
            return func(config, **{k: v for k, v in values.items() if k in own_names})

        keyword_only = inspect.Parameter.KEYWORD_ONLY
        positional = [
            p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for p in own
            if p.default is inspect.Parameter.empty
        ]
        keyword = [p.replace(kind=keyword_only) for p in own if p.default is not inspect.Parameter.empty]
        required_fields = [p for p in field_parameters if p.default is inspect.Parameter.empty]
        optional_fields = [p for p in field_parameters if p.default is not inspect.Parameter.empty]
        parameters = [*positional, *required_fields, *keyword, *optional_fields]
        command.__signature__ = inspect.Signature(parameters)
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        command.__doc__ = func.__doc__
        command.__name__ = func.__name__
        app.command(name or func.__name__.replace("_", "-"))(command)
        return func

    return register
