"""Command-line entry point: the only place that turns errors into exit codes.

Command modules import only Typer and Rich at module level; each command imports the
library it calls inside its body, so ``mlgate --help`` stays fast. Importing this package
imports neither: ``get_app()`` builds the app with every command on first use, and ``main``
replays an up-to-date ``mlgate run`` before Typer is imported at all (``mlgate.cli._fast``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

TYPE_CHECKING = False  # typing stays out of the no-op run's imports (mlgate.cli._fast)
if TYPE_CHECKING:
    from typing import Any

    import typer

# One module per concern; each registers its commands on `app` when imported.
_COMMAND_MODULES = (
    "mlgate.cli.project",    # init, run, status
    "mlgate.cli.demo",       # demo
    "mlgate.cli.validate",   # validate
    "mlgate.cli.train",      # train, tune
    "mlgate.cli.modeltest",  # test
    "mlgate.cli.lifecycle",  # evaluate, compare, register
    "mlgate.cli.serve",      # serve, smoke, keys
    "mlgate.cli.deploy",     # deploy, rollback, canary
    "mlgate.cli.ci",         # ci
    "mlgate.cli.report",     # report
    "mlgate.cli.scan",       # scan
    "mlgate.cli.monitor",    # monitor
)

__all__ = ["get_app", "main"]


def get_app() -> typer.Typer:
    """The Typer app with every command module registered on it (for CliRunner and docs)."""
    from mlgate.cli.app import app

    for module in _COMMAND_MODULES:
        importlib.import_module(module)
    return app


def main() -> None:
    """Run the CLI; print ``Error: ...`` and exit with the error's code on failure."""
    from mlgate.cli._fast import replay_noop

    code = replay_noop(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from mlgate.cli.app import state
    from mlgate.errors import MlgateError

    command = _command(get_app())
    click_error, click_abort = _click_exception_types()
    interrupts: tuple[type[BaseException], ...] = (*click_abort, KeyboardInterrupt)
    _unwind_on_sigterm()  # `serve` puts the default back (mlgate.cli.serve)
    try:
        result = command(standalone_mode=False)
    except MlgateError as exc:
        _discard_empty_outputs()
        _print_error(str(exc))
        sys.exit(exc.exit_code)
    except click_error as exc:
        exc.show()  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    except interrupts:
        result = 130
    except Exception as exc:  # the one place an unexpected error is caught
        _discard_empty_outputs()
        if state["debug"]:
            raise
        name = next((a for a in sys.argv[1:] if not a.startswith("-")), "<command>")  # --debug goes before it
        _print_error(f"unexpected {type(exc).__name__}: {exc}\n"
                     f"This is a bug in mlgate or a library it uses; re-run as `mlgate --debug {name} ...` "
                     "for the traceback.")
        sys.exit(3)
    if result == 130 or _terminated:  # Typer 0.29 turns Ctrl-C into a silent exit code 130
        _discard_empty_outputs()
        _print_error("terminated (SIGTERM): stopped cleanly" if _terminated else "interrupted")
        sys.exit(143 if _terminated else 130)
    sys.exit(result if isinstance(result, int) else 0)


def _command(app: typer.Typer) -> typer.core.TyperGroup:
    """The app's click command, with every option's default stated in ``--help``.

    Click states no default for a one-name flag that is off (``--post``), and Typer gives a
    flag named ``--no-X`` a ``--no-no-X`` twin whose default reads ``no-no-X``: such a flag
    says ``[default: (off)]`` and keeps its one name. Options whose default comes from the
    config say so in their help text (``tests/integration/test_cli_help_defaults.py``).
    """
    import typer.core
    from typer.main import get_command

    # Typer before 0.2x escapes "[default: X]" for Rich even when help is plain click
    # (rich_markup_mode=None): users read "\\[default: 5]". Its `rich` is read for nothing else
    # in that mode; newer Typers have no such attribute.
    if getattr(typer.core, "rich", None) is not None:
        typer.core.rich = None  # type: ignore[attr-defined]
    root = get_command(app)
    commands = [root]
    while commands:
        command = commands.pop()
        commands += list(getattr(command, "commands", {}).values())
        for param in command.params:
            option: Any = param  # an Option of whichever click Typer vendors
            if not getattr(option, "is_flag", False) or option.name == "help":
                continue
            if option.opts and option.opts[0].startswith("--no-"):
                option.secondary_opts = []
            if not option.secondary_opts and not option.default and option.show_default is True:
                option.show_default = "off"
    return root  # type: ignore[return-value]


_terminated = False


def _unwind_on_sigterm() -> None:
    """A cancelled CI job gets SIGTERM: unwind as Ctrl-C does, so that open MLflow runs end
    FAILED instead of staying RUNNING, locks are released and temporary files removed,
    where the default handler would stop the process on the spot."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        global _terminated
        _terminated = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _discard_empty_outputs() -> None:
    """A command that stopped on an error leaves no empty report folder behind (mlgate.context)."""
    context = sys.modules.get("mlgate.context")
    if context is not None:
        context.discard_empty_outputs()


def _click_exception_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Click's error and abort classes, from every copy of click that Typer may raise.

    Typer 0.29 vendors click as ``typer._click`` (its Abort lives in ``typer.exceptions``);
    older Typers raise the ``click`` package's classes. Catching every copy keeps usage errors
    at exit 2 under each Typer the bounds allow. The ``click`` package is only imported when it
    is already loaded or Typer has no copy of its own: importing it costs every command 6 ms.
    """
    errors: list[type[BaseException]] = []
    aborts: list[type[BaseException]] = []
    vendored = importlib.util.find_spec("typer._click") is not None
    for name in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        if name == "click.exceptions" and vendored and "click" not in sys.modules:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for found, attr in ((errors, "ClickException"), (aborts, "Abort")):
            cls = getattr(module, attr, None)
            if isinstance(cls, type) and cls not in found:
                found.append(cls)
    return tuple(errors), tuple(aborts)


def _print_error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    # escape: messages quote user text and extras like "mlgate[xgboost]", not markup
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]Error:[/] {escape(message)}",
                                                                markup=True, emoji=False)
