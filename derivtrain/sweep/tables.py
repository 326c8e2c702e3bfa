"""The sweep summaries' two formats: a CSV file and the lines of a markdown table (summary.py, repeats.py)."""
import csv
from pathlib import Path

from derivtrain.writes import replacing


def write_csv(path: Path, header: list, rows: list) -> None:
    """`path` in the sweep folder, created (a planted link there is refused: derivtrain/writes.py)."""
    with replacing(path.parent, path.name) as f:
        csv.writer(f).writerows([header, *rows])


def markdown_table(header: list, rows: list) -> list:
    def cell(value) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value).replace("|", "\\|")

    return (["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
            + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])
