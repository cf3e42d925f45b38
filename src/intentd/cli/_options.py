"""Global options and the one ``Settings`` they build. A flag overrides its ``INTENTD_*`` variable
(pydantic-settings gives init arguments precedence over the environment), and help texts take the
variable names and defaults from ``Settings`` itself, so they cannot drift from it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.markup import escape

from intentd.settings import Settings

from ._output import fail

EXIT_BAD_SETTINGS = 2  # as for a bad flag: nothing was attempted


_ENV_PREFIX = Settings.model_config.get("env_prefix", "")
_KEY_FILE = Settings.model_fields["key_file"].default


def env_help(field: str, text: str | None = None) -> str:
    """``text`` (default: the field's description) and ``[env INTENTD_X; default …]``."""
    info = Settings.model_fields[field]
    env = (_ENV_PREFIX + field).upper()
    default = "" if info.default is None else f"; default {info.default}"
    described = info.description if text is None else text
    # Escaped: Typer renders help as Rich markup, where "[env …]" would be taken for a style and vanish.
    return escape(f"{described or ''} [env {env}{default}]".strip())


UrlOpt = Annotated[str | None, typer.Option("--url", help=env_help("url", "server URL"))]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        # The key file is where `serve` saved the first admin key. A flag shows in the process
        # list; the variable does not, hence the hint.
        help=env_help("api_key", f"API key (prefer the variable); else the key file {_KEY_FILE}"),
    ),
]
DatabaseOpt = Annotated[str | None, typer.Option("--database", help=env_help("database_url"))]
LogFormatOpt = Annotated[
    Literal["text", "json"] | None,
    typer.Option("--log-format", help=env_help("log_format", "logs of serve and worker run: text or json")),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the API's JSON, for scripts")]


class GlobalOptions:
    """The global flags of one invocation, as the callback took them. Settings are built when a
    command asks, not in the callback, so ``--help`` of a command still works while an
    ``INTENTD_*`` variable is invalid (Click runs the callback before the command parses ``--help``)."""

    def __init__(self, **flags: str | None) -> None:
        self.flags = flags


def settings_of(ctx: typer.Context, **command_flags: Any) -> Settings:
    """Settings from ``INTENTD_*`` with the global flags and then ``command_flags`` on top (those
    given, not None). An invalid value ends the command with one line naming its variable."""
    options = ctx.find_object(GlobalOptions)
    if options is None:  # a command run without the app's callback: a wiring bug, not user error
        raise RuntimeError("intentd's callback did not run")
    given = {k: v for k, v in {**options.flags, **command_flags}.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        # Typer already checked the flags' types, so what failed came from the environment.
        problems = "; ".join(f"{_env_name(e['loc'])}: {e['msg']}" for e in exc.errors())
        fail(f"invalid settings: {problems}", EXIT_BAD_SETTINGS)


def _env_name(loc: tuple[int | str, ...]) -> str:
    return (_ENV_PREFIX + str(loc[0])).upper() if loc else "INTENTD_*"
