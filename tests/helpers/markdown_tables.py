"""Reading back the pipe tables the reports write with DataFrame.to_markdown."""


def markdown_tables(markdown: str) -> list[dict[str, list[str]]]:
    """Each table of ``markdown``, in order: its rows' cells by the row's first cell
    (the header row included, the alignment row left out)."""
    tables: list[dict[str, list[str]]] = []
    in_table = False
    for line in markdown.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        if not in_table:
            tables.append({})
            in_table = True
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not set(cells[0]) <= set(":-"):
            tables[-1][cells[0]] = cells[1:]
    return tables
