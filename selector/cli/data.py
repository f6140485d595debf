"""The commands about data: profile and examples."""

from __future__ import annotations

from rich.table import Table

from selector.cli.common import (
    DataArg,
    JsonFlag,
    SeedOpt,
    app,
    print_json,
    stdout,
    user_errors,
)
from selector.cli.data_options import with_data_options
from selector.cli.show import profile_table
from selector.data.options import DataOptions


@app.command()
@user_errors
@with_data_options
def profile(data: DataArg, as_json: JsonFlag = False, seed: SeedOpt = 0, *,
            data_options: DataOptions) -> None:
    """Load, validate and profile a dataset: sizes, lengths, features, task and class balance.

    Examples:

      selector profile example:digits

      selector profile sales.parquet --id-col store --step-col day --target churned --json
    """
    from selector.data import load_dataset, profile_dataset
    from selector.search.space import preset_for
    result = profile_dataset(load_dataset(data, data_options))
    if as_json:
        name, reason = preset_for(result)
        print_json({**result.to_dict(), "search_space": {"name": name, "reason": reason}})
    else:
        stdout.print(profile_table(result))


@app.command()
def examples(as_json: JsonFlag = False) -> None:
    """List the bundled example datasets (use them as example:NAME or example:NAME?key=value)."""
    from selector.data.examples import EXAMPLES
    if as_json:
        print_json({name: {"summary": e.summary, "parameters": e.parameters}
                    for name, e in EXAMPLES.items()})
        return
    table = Table("name", "what", "parameters (defaults)", title="Bundled examples",
                  title_justify="left")
    for name, e in EXAMPLES.items():
        params = ", ".join(f"{k}={v}" for k, v in e.parameters.items()) or "-"
        table.add_row(f"example:{name}", e.summary, params)
    stdout.print(table)
