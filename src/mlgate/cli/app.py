"""The Typer application object that every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    name="mlgate",
    help="CI/CD for machine learning: data, model and deployment gates with clear verdicts.\n\n"
         "Exit codes: 0 the gate passed, 1 a check fell short, 2 bad usage, config or input.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an unexpected error."),
    trust_type: Annotated[list[str] | None, typer.Option(
        "--trust-type", metavar="MODULE.NAME",
        help="Allow one more class in model files you trust (repeatable; default: none beyond "
             "security.trusted_types); see docs/security.md.")] = None,
) -> None:
    state["debug"] = debug
    if trust_type:  # an env var, so server worker processes load with the same trust
        import os

        os.environ["MLGATE_TRUST_TYPES"] = ",".join([os.environ.get("MLGATE_TRUST_TYPES", ""), *trust_type])
