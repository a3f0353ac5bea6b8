"""Command-line entry point: the only place that turns errors into exit codes.

Command modules import only Typer and Rich at module level; each command imports the
library it calls inside its body, so ``mlgate --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

from mlgate.cli.app import app, state

# One module per concern; each registers its commands on `app` when imported.
_COMMAND_MODULES = (
    "mlgate.cli.project",    # init, run, status
    "mlgate.cli.demo",       # demo
    "mlgate.cli.validate",   # validate
    "mlgate.cli.train",      # train, tune
    "mlgate.cli.modeltest",  # test
    "mlgate.cli.lifecycle",  # evaluate, compare, register
    "mlgate.cli.serve",      # serve, smoke, keys
    "mlgate.cli.ci",         # ci
)

for _module in _COMMAND_MODULES:
    importlib.import_module(_module)

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI; print ``Error: ...`` and exit with the error's code on failure."""
    import click

    from mlgate.errors import MlgateError

    try:
        result = app(standalone_mode=False)
    except MlgateError as exc:
        _print_error(str(exc))
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _print_error("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        _print_error("interrupted")
        sys.exit(130)
    except Exception as exc:  # the one place an unexpected error is caught
        if state["debug"]:
            raise
        _print_error(f"unexpected {type(exc).__name__}: {exc}\n"
                     "This is a bug in mlgate or a library it uses; re-run with --debug "
                     "for the traceback.")
        sys.exit(3)
    sys.exit(result if isinstance(result, int) else 0)


def _print_error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    # escape: messages quote user text and extras like "mlgate[xgboost]", not markup
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]Error:[/] {escape(message)}",
                                                                markup=True, emoji=False)
