"""`annotate`: the task administrator's command line.

Every command is a thin layer over client.py (the Python client) plus rich output; the
upload pipeline is upload.py, the folder/S3/URL layouts layout.py, configuration profile.py.
"""
import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)
from rich.progress_bar import ProgressBar
from rich.table import Table

from . import profile
from .client import ApiError, Client
from .export import ExportFailed
from .layout import LayoutError, from_listing, from_urls, scan_folder
from .taskfields import FieldsError, apply_sets, from_file
from .upload import Progress as UploadProgress, add_samples

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
                  help="Administer annotation tasks: create them, add images, invite annotators, "
                       "watch progress.\n\nExample: `annotate login --api http://127.0.0.1:8000 "
                       "--token $ADMIN_TOKEN`, then `annotate tasks list`.")
tasks_app = typer.Typer(no_args_is_help=True, help="Create, list, show, edit and delete tasks.")
samples_app = typer.Typer(no_args_is_help=True, help="Add images to a task and list its samples.")
app.add_typer(tasks_app, name="tasks")
app.add_typer(samples_app, name="samples")
console = Console()


@app.callback()
def _global(ctx: typer.Context,
            api: Optional[str] = typer.Option(None, help="API URL (else $ANNOTATE_API or the profile)."),
            token: Optional[str] = typer.Option(None, help="Bearer token (else $ANNOTATE_TOKEN or the profile)."),
            profile_name: Optional[str] = typer.Option(None, "--profile", help="Profile written by `annotate login`.")):
    ctx.obj = profile.resolve(api, token, profile_name)


def _client(ctx: typer.Context) -> Client:
    settings = ctx.obj
    if not settings.api or not settings.token:
        raise LayoutError("No API URL or token: pass --api and --token, set ANNOTATE_API and "
                          "ANNOTATE_TOKEN, or run `annotate login` once.")
    return Client(settings.api, settings.token)


# --- login -----------------------------------------------------------------------------------

@app.command()
def login(ctx: typer.Context,
          api: str = typer.Option(..., "--api", help="The API's base URL."),
          token: str = typer.Option(..., "--token", help="Your bearer token (an admin token to create tasks)."),
          site: Optional[str] = typer.Option(None, help="Annotator page URL, used to print invite links."),
          profile_name: str = typer.Option("default", "--profile", help="Name to save it under.")):
    """Check an API URL and token, and save them as a profile for the next commands.

    Example: `annotate login --api http://127.0.0.1:8000 --token $TOKEN --site http://127.0.0.1:8080/`
    """
    tasks = Client(api, token).list_tasks()
    path = profile.save_profile(profile_name, api, token, site)
    console.print(f"Logged in to {api}: {len(tasks)} task(s) visible. Profile '{profile_name}' "
                  f"saved in {path}.")


# --- tasks -----------------------------------------------------------------------------------

FILE_OPT = typer.Option(None, "--file", "-f", exists=True, dir_okay=False,
                        help="Task fields as YAML or JSON (`name: Nuclei`, `labels: [cell]`).")
SET_OPT = typer.Option(None, "--set", metavar="KEY=VALUE",
                       help="One task field, after the file (repeat). VALUE is read as JSON when "
                            "it is JSON (`2`, `true`, `[\"cell\"]`), else as text; a dotted KEY "
                            "sets one entry of an object (`client_config.draw_label=cell`).")
FIELDS_HELP = ("The fields are those `annotate tasks show TASK` prints, less the read-only ones "
               "(progress, counts, times); `id` only at creation. The API names any field it "
               "refuses and why; nothing is stored then.")


@tasks_app.command("create", epilog=FIELDS_HELP)
def tasks_create(ctx: typer.Context, file: Optional[Path] = FILE_OPT,
                 sets: Optional[list[str]] = SET_OPT):
    """Create a task from a YAML/JSON file and/or `--set KEY=VALUE` fields.

    Example: `annotate tasks create -f task.yaml` or
    `annotate tasks create --set id=nuclei --set name=Nuclei --set 'labels=["nucleus"]'`
    """
    fields = apply_sets(from_file(file), sets or [])
    task = _client(ctx).create_task(fields)
    console.print(f"Created task [bold]{task['id']}[/bold]. Add images with "
                  f"`annotate samples add {task['id']} ./folder`.")


@tasks_app.command("list")
def tasks_list(ctx: typer.Context):
    """List the tasks you can see, with their progress.

    Example: `annotate tasks list`
    """
    table = Table("id", "name", "progress", "done / total", "annotations", "tags")
    for task in _client(ctx).list_tasks():
        p = task["progress"]
        table.add_row(task["id"], task["name"], ProgressBar(total=max(p["total"], 1),
                      completed=p["completed"], width=20),
                      f"{p['completed']} / {p['total']}", str(p["annotations"]),
                      ", ".join(task.get("tags") or []))
    console.print(table)


@tasks_app.command("show")
def tasks_show(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK")):
    """Print a task's settings and progress as JSON.

    Example: `annotate tasks show nuclei`
    """
    console.print_json(data=_client(ctx).get_task(task_id))


@tasks_app.command("edit", epilog=FIELDS_HELP)
def tasks_edit(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK"),
               file: Optional[Path] = FILE_OPT, sets: Optional[list[str]] = SET_OPT):
    """Change some fields of a task (only those given; a dotted key keeps the object's others).

    Example: `annotate tasks edit nuclei --set lease_seconds=1800 --set client_config.draw_label=debris`
    """
    client = _client(ctx)
    fields = from_file(file)
    current = client.get_task(task_id) if any("." in s.partition("=")[0] for s in sets or []) else None
    fields = apply_sets(fields, sets or [], current)
    if not fields:
        raise FieldsError("Nothing to change: give -f task.yaml or --set KEY=VALUE (see --help).")
    client.update_task(task_id, fields)
    console.print(f"Updated {task_id}: {', '.join(sorted(fields))}.")


@tasks_app.command("delete")
def tasks_delete(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK"),
                 yes: bool = typer.Option(False, "--yes", help="Do not ask (not enough for production tasks)."),
                 confirm: Optional[str] = typer.Option(None, help="The task id again: required "
                                                       "non-interactively for a `production` task.")):
    """Delete a task with its samples and annotations. A task tagged `production` asks for its id.

    Example: `annotate tasks delete scratch-1 --yes`
    """
    client = _client(ctx)
    task = client.get_task(task_id)
    if "production" in (task.get("tags") or []):
        typed = confirm or typer.prompt(f"Task {task_id} is tagged production. Type its id to delete it")
        if typed != task_id:
            raise LayoutError(f"'{typed}' is not '{task_id}': nothing deleted.")
    elif not yes and not typer.confirm(f"Delete task {task_id} and everything in it?"):
        raise typer.Exit(1)
    client.delete_task(task_id)
    console.print(f"Deleted {task_id}.")


# --- samples ---------------------------------------------------------------------------------

@samples_app.command("add")
def samples_add(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK"),
                source: str = typer.Argument(..., help="./folder, s3://bucket/prefix or urls.txt"),
                jobs: int = typer.Option(8, min=1, max=64, help="Parallel uploads.")):
    """Add images: a local folder (uploaded to S3), an S3 prefix or a file of https URLs.

    A folder holds one sub-folder per sample (same file names in each, optional annotation.json
    or annotation.png label mask) or just images (one sample each). Rerun the same command to
    resume: files already uploaded (same size and checksum) are skipped.

    Example: `annotate samples add nuclei ./plates/` or `annotate samples add nuclei s3://lab-archive/plate-1/`
    """
    client = _client(ctx)
    if source.startswith("s3://"):
        objects, cursor = [], None
        while True:
            page = client.list_source(task_id, source, cursor)
            objects += page["objects"]
            cursor = page["cursor"]
            if not cursor:
                break
        samples = from_listing(source, objects)
    elif Path(source).is_file():
        samples = from_urls(Path(source))
    else:
        samples = scan_folder(Path(source))
    local_files = [p for s in samples for p in s.files.values() if isinstance(p, Path)]
    total_bytes = sum(p.stat().st_size for p in local_files)
    console.print(f"{len(samples)} samples, {len(local_files)} files to upload "
                  f"({total_bytes / 1e6:.1f} MB).")
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TimeRemainingColumn(),
                   TextColumn("{task.fields[files]}"), console=console)
    with bar:
        upload = bar.add_task("uploading", total=total_bytes or 1, files="")
        register = bar.add_task("importing", total=len(samples), files="")
        counts = {"up": 0, "skip": 0}

        def file_done(size, uploaded):
            counts["up" if uploaded else "skip"] += 1
            if not uploaded:  # skipped bytes are not transferred: keep rate and ETA honest
                bar.update(upload, total=bar.tasks[upload].total - size)
            bar.update(upload, files=f"{counts['up']} uploaded, {counts['skip']} already there, "
                                     f"of {len(local_files)}")
        stats = add_samples(client, task_id, samples, jobs=jobs, progress=UploadProgress(
            bytes_sent=lambda n: bar.advance(upload, n), file_done=file_done,
            samples_done=lambda n: bar.advance(register, n)))
    console.print(f"Uploaded {stats.files_uploaded} files ({stats.bytes_uploaded / 1e6:.1f} MB), "
                  f"skipped {stats.files_skipped} already there; {stats.samples_created} samples "
                  f"added, {stats.samples_existing} existed; {stats.seconds:.1f} s.")
    if stats.problems:
        table = Table("sample", "problem (never handed to annotators)", title="Refused files")
        for sample_id, problem in sorted(stats.problems.items()):
            table.add_row(sample_id, problem)
        console.print(table)


@samples_app.command("list")
def samples_list(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK"),
                 status: Optional[str] = typer.Option(None, help="available | in_progress | complete | problem"),
                 limit: int = typer.Option(50, min=1, max=1000)):
    """List a task's samples (first page).

    Example: `annotate samples list nuclei --status problem`
    """
    page = _client(ctx).list_samples(task_id, status=status, limit=limit)
    table = Table("id", "status", "submitted", "files", "problem")
    for s in page["samples"]:
        table.add_row(s["id"], s["status"], str(s["submitted"]), ", ".join(s["files"]), s.get("problem", ""))
    console.print(table)


# --- invites ---------------------------------------------------------------------------------

@app.command()
def invite(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK"),
           emails: list[str] = typer.Argument(..., help="One or more email addresses."),
           days: float = typer.Option(14, min=0.001, help="How long the links work."),
           site: Optional[str] = typer.Option(None, help="Annotator page URL (else $ANNOTATE_SITE or the profile).")):
    """Mint task-scoped links for annotators and print them.

    Example: `annotate invite nuclei alice@lab.org bob@lab.org --days 7`
    """
    made = _client(ctx).invite(task_id, emails, int(days * 86400))
    site = site or ctx.obj.site
    table = Table("email", "invite id", "expires")
    for inv in made:
        table.add_row(inv["email"], inv["id"], _when(inv["expires_at"]))
    console.print(table)
    # One link per line, never wrapped, so it can be copied whole.
    for inv in made:
        shown = annotator_link(site, task_id, inv["token"]) if site else inv["token"]
        console.print(f"{inv['email']} {shown}", soft_wrap=True, markup=False, highlight=False)
    if not site:
        console.print("No --site given: these are the bare tokens (links are "
                      "<site>/index.html?task=TASK#token=TOKEN).")


def annotator_link(site: str, task_id: str, token: str) -> str:
    # The token rides in the fragment so it never reaches a server log (frontend/src/link.js).
    base = site if site.endswith(".html") else site.rstrip("/") + "/index.html"
    return f"{base}?task={task_id}#token={token}"


@app.command()
def invites(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK")):
    """List a task's invites (the links themselves are shown only when minted).

    Example: `annotate invites nuclei`
    """
    table = Table("invite id", "email", "by", "created", "expires", "revoked")
    for inv in _client(ctx).list_invites(task_id):
        table.add_row(inv["id"], inv["email"], inv["created_by"], _when(inv["created_at"]),
                      _when(inv["expires_at"]), _when(inv["revoked_at"]) if inv["revoked_at"] else "")
    console.print(table)


@app.command()
def revoke(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK"),
           invite_id: str = typer.Argument(..., help="From `annotate invites TASK`.")):
    """Revoke an invite: its link stops working at once.

    Example: `annotate revoke nuclei 3f2a9c0d1e4b5a67`
    """
    inv = _client(ctx).revoke_invite(task_id, invite_id)
    console.print(f"Revoked {inv['id']} ({inv['email']}).")


# --- export ----------------------------------------------------------------------------------

@app.command()
def export(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK"),
           fmt: str = typer.Option("all", "--format", help="masks | geojson | coco | all"),
           out: Path = typer.Option(Path("."), "--out", "-o", help="Folder to unpack into."),
           versions: str = typer.Option("latest", help="latest (each annotator's last submission) | all"),
           status: str = typer.Option("completed", help="completed | all (samples)"),
           labels: Optional[str] = typer.Option(None, help="Only these labels, comma-separated."),
           images: bool = typer.Option(True, help="Copy the images into the geojson layout.")):
    """Export a task's annotations: GeoJSON folders, label masks (PNG), COCO, export.json.

    The service builds the archive (a progress bar), then it is downloaded (resumable: run the
    same command again after an interruption) and unpacked into --out. When nothing changed
    since the last run into the same folder, nothing is downloaded.

    Example: `annotate export nuclei --format masks -o out/`
    """
    client = _client(ctx)
    bar = Progress(TextColumn("{task.description:<12}"), BarColumn(), TextColumn("{task.fields[info]}"),
                   TimeRemainingColumn(), console=console)
    with bar:
        build = bar.add_task("building", total=None, info="queued")
        fetch = bar.add_task("downloading", total=None, info="", visible=False)

        def built(done, total):
            bar.update(build, completed=min(done, total), total=max(total, 1),
                       info=f"{min(done, total):,} / {total:,} samples")

        def fetched(done, total):
            bar.update(fetch, visible=True, completed=done, total=max(total, 1),
                       info=f"{_size(done)} / {_size(total)}")
        result = client.export(task_id, format=fmt, dest=out, versions=versions, status=status,
                               labels=[x.strip() for x in labels.split(",") if x.strip()]
                               if labels else None, images=images,
                               on_build=built, on_download=fetched)
    job = result.export
    if result.unchanged:
        console.print(f"Nothing changed since the last export into {out}: nothing downloaded "
                      f"(export {job['id']}).")
        return
    console.print(_written_table(result))
    counts = job["counts"]
    resumed = f" (resumed after {_size(result.resumed_from)})" if result.resumed_from else ""
    console.print(f"Export {job['id']}: {counts['samples_exported']} samples, "
                  f"{counts['annotations_exported']} annotations, {_size(job['size'])} "
                  f"downloaded{resumed}; unpacked into {out}.")
    if counts.get("annotations_skipped"):
        console.print(f"[yellow]{counts['annotations_skipped']} annotation(s) could not be "
                      "exported: see `skipped` in export.json.[/yellow]")
    if job.get("agreement"):
        a = job["agreement"]
        iou = f", mean IoU {a['mean_iou']:.2f}" if a["mean_iou"] is not None else ""
        console.print(f"Agreement between annotators: F1@0.5 {a['f1']:.2f}{iou} over "
                      f"{a['samples']} samples; lowest: " +
                      ", ".join(f"{x['sample_id']} ({x['f1']:.2f})" for x in a["lowest"][:5]))


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(n, 1) / 1e3:.0f} kB"


def _written_table(result) -> Table:
    kinds = {"images": 0, "annotation.json": 0, "sample_status.json": 0, "instance masks": 0,
             "semantic masks": 0}
    samples, top = set(), []
    for path in result.written:
        parts = path.relative_to(result.dest).parts
        if len(parts) == 1:
            top.append(parts[0])
            continue
        samples.add(parts[0])
        name = parts[-1]
        kind = ("instance masks" if name.endswith("_instances.png") else
                "semantic masks" if name.endswith("_semantic.png") else
                name if name in kinds else "images")
        kinds[kind] += 1
    table = Table("wrote", "files", title=f"{len(samples)} sample folders in {result.dest}",
                  title_justify="left")
    for kind, n in kinds.items():
        if n:
            table.add_row(kind, str(n))
    for name in top:
        table.add_row(name, "1")
    return table


# --- progress --------------------------------------------------------------------------------

@app.command()
def progress(ctx: typer.Context, task_id: str = typer.Argument(..., metavar="TASK"),
             watch: bool = typer.Option(False, "--watch", help="Refresh until Ctrl-C."),
             interval: float = typer.Option(5.0, min=0.5, help="Seconds between refreshes.")):
    """Counts, per-annotator table, completion rate and ETA.

    The rate is measured between refreshes (with --watch) or since your previous run.

    Example: `annotate progress nuclei --watch`
    """
    client = _client(ctx)
    history = _load_history(task_id)
    if not watch:
        console.print(_progress_view(task_id, client.progress(task_id), history))
        return
    with Live(console=console, auto_refresh=False) as live:
        try:
            while True:
                live.update(_progress_view(task_id, client.progress(task_id), history), refresh=True)
                time.sleep(interval)
        except KeyboardInterrupt:
            pass


def _duration(seconds: float) -> str:
    """Hours for long waits, minutes or seconds for short ones (never '0.0 h')."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _progress_view(task_id: str, p: dict, history: list) -> Table:
    now = time.time()
    history.append([now, p["completed"]])
    del history[:-50]
    _save_history(task_id, history)
    first_t, first_done = history[0]
    rate = (p["completed"] - first_done) / (now - first_t) * 3600 if now - first_t > 1 else None
    left = p["total"] - p["completed"]
    if not left:
        pace = "ETA done"
    elif rate is None:
        pace = "rate: run again later or use --watch"
    else:
        pace = f"rate {rate:.1f}/h, ETA " + (_duration(left / rate * 3600) if rate > 0
                                             else "unknown (no recent completions)")
    grid = Table.grid(padding=(0, 2))
    grid.add_row(f"[bold]{task_id}[/bold]", ProgressBar(total=max(p["total"], 1), completed=p["completed"], width=30),
                 f"{p['completed']} / {p['total']} complete")
    grid.add_row("in progress", str(p["in_progress"]), f"available {p['available']}")
    grid.add_row("annotations", str(p["annotations"]), pace)
    people = Table("annotator", "submitted")
    for who, counts in sorted(p["by_annotator"].items(), key=lambda kv: -kv[1]["submitted"]):
        people.add_row(who, str(counts["submitted"]))
    outer = Table.grid()
    outer.add_row(grid)
    outer.add_row(people)
    return outer


def _history_path(task_id: str) -> Path:
    return profile.config_path().parent / "progress" / f"{task_id}.json"


def _load_history(task_id: str) -> list:
    path = _history_path(task_id)
    return json.loads(path.read_text()) if path.exists() else []


def _save_history(task_id: str, history: list) -> None:
    path = _history_path(task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(history))


def _when(epoch) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def main():
    try:
        app()
    except (ApiError, LayoutError, ExportFailed, FieldsError) as exc:
        Console(stderr=True).print(f"[red]Error:[/red] {exc}")
        raise SystemExit(1) from None
