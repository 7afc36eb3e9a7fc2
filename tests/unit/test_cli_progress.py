"""`annotate progress`: rate and ETA from the completions seen since an earlier look."""
import time

from rich.console import Console

from annotator_cli.cli import _progress_view


def _render(view) -> str:
    console = Console(width=200, record=True)
    console.print(view)
    return console.export_text()


def test_rate_and_eta_from_history(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNOTATE_CONFIG", str(tmp_path / "profiles.json"))
    history = [[time.time() - 3600, 0]]  # an hour ago nothing was complete
    progress = {"total": 30, "completed": 10, "in_progress": 2, "available": 18, "annotations": 10,
                "by_annotator": {"alice@lab.org": {"submitted": 7}, "bob": {"submitted": 3}}}
    text = _render(_progress_view("t", progress, history))
    assert "10 / 30 complete" in text and "rate 10.0/h, ETA 2.0 h" in text
    assert text.index("alice@lab.org") < text.index("bob")  # busiest first
    assert (tmp_path / "progress" / "t.json").exists()  # the next run measures from here


def test_first_look_has_no_rate_yet(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNOTATE_CONFIG", str(tmp_path / "profiles.json"))
    progress = {"total": 5, "completed": 1, "in_progress": 0, "available": 4, "annotations": 1,
                "by_annotator": {}}
    assert "run again later or use --watch" in _render(_progress_view("t", progress, []))
