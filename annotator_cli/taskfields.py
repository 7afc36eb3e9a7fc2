"""A task's fields from the command line: a YAML or JSON file, then `--set KEY=VALUE` on top.

Which keys exist and what they may hold is the API's to say (it names an unknown or bad field
in its 400), so a new task field needs no change here.
"""
import copy
import json
from pathlib import Path

import yaml


class FieldsError(ValueError):
    """A file or `--set` that cannot be read as task fields; the message says how to write it."""


def from_file(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        loaded = yaml.safe_load(path.read_text())  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise FieldsError(f"{path} is not YAML or JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise FieldsError(f"{path} must hold a mapping of task fields, e.g. `name: Nuclei`")
    return loaded


def parse_value(text: str):
    """JSON when it reads as JSON (numbers, true, lists, objects, "quoted"), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def apply_sets(fields: dict, sets: list[str], current: dict | None = None) -> dict:
    """`fields` with every `KEY=VALUE` applied in order; a dotted key (`client_config.draw_label`)
    sets one entry of a nested object, starting from `current`'s (the stored task) when the
    fields do not hold that object yet, so that an edit keeps the entries it does not name."""
    fields = copy.deepcopy(fields)
    for item in sets:
        key, sep, text = item.partition("=")
        path = key.strip().split(".")
        if not sep or not all(path):
            raise FieldsError(f"--set {item!r}: write KEY=VALUE, e.g. --set name=Nuclei, "
                              "--set 'labels=[\"cell\", \"debris\"]' or "
                              "--set client_config.draw_label=cell")
        if len(path) > 1 and path[0] not in fields and current and isinstance(current.get(path[0]), dict):
            fields[path[0]] = copy.deepcopy(current[path[0]])
        target = fields
        for depth, part in enumerate(path[:-1]):
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise FieldsError(f"--set {item!r}: {'.'.join(path[:depth + 1])} is not an object, "
                                  "so it has no entries to set")
        target[path[-1]] = parse_value(text)
    return fields
