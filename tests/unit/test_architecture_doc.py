"""docs/architecture.md names tables, keys, modules and functions: each must exist as written,
so the document cannot silently drift from the code (a rename fails here, in `make check`)."""
import ast
import re
from pathlib import Path

from chalicelib import models

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()
MODULES = {p.stem: p for p in (ROOT / "chalicelib").glob("*.py")} | {"app": ROOT / "app.py"}


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _table_rows() -> dict[str, str]:
    """First cell (a table name in backticks) -> second cell, from the tables table."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", DOC, re.M)}


def test_every_table_is_documented_with_its_keys_in_order():
    rows = _table_rows()
    for model in models.ALL_MODELS:
        table = model.Meta.table_name.removeprefix(models.config.TABLE_PREFIX)
        assert table in rows, f"docs/architecture.md lists no table `{table}`"
        keys = [a.attr_name for a in model.get_attributes().values() if a.is_hash_key] + \
            [a.attr_name for a in model.get_attributes().values() if a.is_range_key]
        documented = re.findall(r"`(\w+)`", rows[table])
        assert documented[:len(keys)] == keys, (table, documented, keys)


def test_the_dispatch_index_is_documented_with_its_keys():
    index = models.Sample.dispatch
    keys = [index.Meta.attributes[name].attr_name for name in ("task_id", "dispatch_key")]
    assert f"GSI `{index.Meta.index_name}` on samples | `{keys[0]}`, `{keys[1]}` |" in DOC


def test_every_module_function_the_document_names_exists():
    named = set(re.findall(r"\b([a-z_]+)\.([A-Za-z_][A-Za-z0-9_]*)\b", DOC))
    checked = {(module, name) for module, name in named
               if module in MODULES and name not in ("py", "json", "md", "png")}
    assert len(checked) > 20  # the pattern still finds what the document names
    missing = sorted(f"{m}.{n}" for m, n in checked if n not in _top_level_names(MODULES[m]))
    assert not missing, f"docs/architecture.md names what the code does not have: {missing}"


def test_every_chalicelib_file_the_document_names_exists():
    paths = set(re.findall(r"`((?:chalicelib/|app\.py)[\w/.]*\.py)`", DOC))
    assert paths
    assert not [p for p in paths if not (ROOT / p).exists()]
