"""The ``ytmaker`` command: create projects, run them, watch progress, show results."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tasks.prefect_defaults import apply_defaults
from ytmaker.core.errors import YtmakerError
from ytmaker.core.stages import ERROR_STAGE, PIPELINE


def _cmd_new(args: argparse.Namespace) -> int:
    from data import create_project

    content = Path(args.content_file).read_text(encoding="utf-8")
    project = create_project(
        args.name, content, args.language, logo_path=args.logo, privacy=args.privacy,
    )
    print(project.id if args.quiet else f"Created project {project.id}: {project.name} ({project.language})")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    apply_defaults()
    # Without PREFECT_API_URL the run uses a temporary API server that lives as long as this
    # command; its shutdown at exit logs cancelled event flushes as errors. Keep its own
    # log to real trouble (set PREFECT_SERVER_LOGGING_LEVEL to see more).
    import os

    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    from flows import video_flow
    from ytmaker.providers import provider_calls

    before = dict(provider_calls)
    result = video_flow(project_id=args.project_id)
    done = {k: provider_calls[k] - before.get(k, 0) for k in provider_calls if provider_calls[k] - before.get(k, 0)}
    print()
    print(f"Project {args.project_id}: {result.status}")
    print(f"  video:     {result.video_path} ({result.duration_seconds:.1f} s)")
    print(f"  thumbnail: {result.thumbnail_path}")
    print(f"  published: {result.video_id} -> {result.video_url} ({result.video_status})")
    print(f"  provider calls this run: {done or 'none (every step reused from cache)'}")
    return 0


SAMPLES = {
    "zh-TW": ("taipei-101.zh-TW.txt", "台北一零一：竹子造型的摩天大樓"),
    "en": ("honeybees.en.txt", "How honeybees work"),
}


def _cmd_demo(args: argparse.Namespace) -> int:
    """Make a video from a bundled sample; the same sample reuses its project (and cache)."""
    import data
    from data import create_project, list_projects
    from ytmaker.core.settings import get_settings

    filename, title = SAMPLES[args.language]
    content = (Path(data.__file__).parent / "samples" / filename).read_text(encoding="utf-8")
    existing = [p for p in list_projects(limit=1000) if p.name == title and p.content == content]
    if existing:
        project = existing[-1]
        print(f"Reusing sample project {project.id} ({project.status.value}); finished steps come from the cache.")
    else:
        project = create_project(title, content, args.language)
        print(f"Created sample project {project.id}: {title}")
    summary = get_settings().public_summary()
    print(f"Data in {summary['data_dir']}; providers: {summary['providers']}")
    print(f"Watch progress in another terminal: {Path(sys.argv[0]).name} progress {project.id}")
    return _cmd_run(argparse.Namespace(project_id=project.id))


def _cmd_credentials(args: argparse.Namespace) -> int:
    """Save the cloud keys found in the environment into the Prefect credentials block."""
    apply_defaults()
    from blocks.credentials import FIELDS, YtmakerCredentials
    from blocks.credentials import save_credentials_from_settings
    from ytmaker.core.settings import get_settings

    settings = get_settings()
    name = args.name or settings.credentials_block
    if args.action == "show":
        try:
            block = YtmakerCredentials.load(name)
        except ValueError:
            print(f"No credentials block {name!r} yet: run `ytmaker credentials save`.")
            return 1
        for field, env in FIELDS.items():
            print(f"{env:<22} {'set' if getattr(block, field) else '-'}")
        return 0
    saved = save_credentials_from_settings(name)
    if not saved:
        print("None of " + ", ".join(FIELDS.values()) + " is set in the environment: nothing to save.")
        return 1
    print(f"Saved credentials block ytmaker-credentials/{name}: " + ", ".join(saved))
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    apply_defaults()
    from deployments import deploy_all

    deploy_all(args.pool)
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    """A process worker on the pool. It runs with ytmaker's Prefect defaults (result storage
    under DATA_DIR), which the flow runs it starts inherit."""
    import os

    apply_defaults()
    from deployments import require_server

    require_server()
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect) if prefect.exists() else "prefect", "worker", "start", "--pool", args.pool, "--type", "process"]
    if args.name:
        command += ["--name", args.name]
    os.execvpe(command[0], command, os.environ)


def _cmd_recover(args: argparse.Namespace) -> int:
    apply_defaults()
    from flows.recover import recover_interrupted_tasks

    found = recover_interrupted_tasks(how=args.how)
    if not found:
        print("No interrupted projects: every project in a running status has a live run.")
        return 0
    for entry in found:
        how = entry.get("restarted", "not restarted")
        extra = entry.get("new_flow_run_id") or entry.get("result_status") or ""
        freed = f" (freed {entry['locks_freed']} step lock(s) of the dead run)" if entry.get("locks_freed") else ""
        print(f"project {entry['project_id']} ({entry['status']}): {how} {extra}".rstrip() + freed)
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    """What dead processes still hold, and freeing it: step locks in Redis, concurrency
    slots on the Prefect API."""
    apply_defaults()
    import os

    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    from tasks.limits import limit_states, reclaim_expired_leases, uses_temporary_server
    from tasks.locking import lock_manager
    from ytmaker.core.settings import get_settings

    settings = get_settings()
    locks = lock_manager()
    held = locks.held_locks()
    freed = {h.name for h in ([] if args.dry_run else locks.release_dead_locks())}
    print(f"Step locks (namespace {settings.namespace}): {len(held)} held")
    for lock in held:
        state = "holder dead: freed" if lock.name in freed else (
            "holder dead" if lock.holder_is_dead() else "holder alive or on another machine")
        print(f"  {lock.name.rsplit(':', 1)[-1][:16]}…  {lock.holder}  {lock.seconds_left:.0f} s left  [{state}]")

    given_back = 0 if args.dry_run else reclaim_expired_leases()
    print("Concurrency limits" + ("" if uses_temporary_server() else
                                  " (leases are given back by the Prefect server's repossessor)") + ":")
    for limit in limit_states():
        print(f"  {limit.name}: {limit.active_slots}/{limit.limit} slots taken")
        for lease_id, slots, left in limit.leases:
            when = f"expires in {left:.0f} s (renewed while its holder lives)" if left > 0 else f"expired {-left:.0f} s ago"
            print(f"    lease {lease_id}: {slots} slot(s), {when}")
    print(f"Freed {len(freed)} dead step lock(s); gave back the slots of {given_back} expired lease(s).")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from data import get_project, list_assets

    project = get_project(args.project_id)
    data = project.model_dump(mode="json", exclude={"content", "script"})
    data["segments"] = len((project.script or {}).get("segments", []))
    data["assets"] = [a.model_dump(mode="json", exclude={"project_id", "id"}) for a in list_assets(args.project_id)]
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from data import list_projects

    for p in list_projects():
        print(f"{p.id:>5}  {p.status.value:<22} {p.language:<6} {p.name}")
    return 0


def _finished(project_id: int) -> bool:
    from data import RUNNING_STATUSES, ProjectStatus, get_project

    status = get_project(project_id).status
    return status not in RUNNING_STATUSES and status is not ProjectStatus.INITIALIZED


def _cmd_progress(args: argparse.Namespace) -> int:
    """A live progress bar per stage, fed from Redis (history first, then live)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ytmaker.runtime.progress_bus import subscribe_progress

    console = Console()
    with Progress(
        TextColumn("{task.description:<10}"), BarColumn(bar_width=30), TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(), TextColumn("{task.fields[note]}"), console=console,
    ) as bars:
        ids = {stage.name: bars.add_task(stage.label, total=100, note="", start=False) for stage in PIPELINE}
        seen = False
        for message in subscribe_progress(args.project_id, replay=True, timeout=args.timeout, until_final=False):
            seen = True
            stage = message["stage"]
            # A final message only ends the watch if the project agrees: the history of an
            # earlier run stays in Redis until a newly submitted run actually starts.
            if message.get("final") and not _finished(args.project_id):
                continue
            if stage == ERROR_STAGE:
                bars.stop()
                console.print(f"[red]Failed in {message.get('failed_stage')}: {message['message']}[/red]")
                return 1
            if stage in ids:
                bars.start_task(ids[stage])
                bars.update(ids[stage], completed=message["progress"], note=message["message"][:50])
            if message.get("final"):
                bars.stop()
                console.print(f"[green]{message['message']}[/green]")
                return 0
    if not seen:
        console.print(f"No progress for project {args.project_id} within {args.timeout} s (is it running? is Redis up?)")
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ytmaker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    new = sub.add_parser("new", help="create a project from a text file")
    new.add_argument("--name", required=True, help="the video's title")
    new.add_argument("--content-file", required=True, help="UTF-8 text file with the content")
    new.add_argument("--language", default="zh-TW", choices=["zh-TW", "zh", "en"])
    new.add_argument("--logo", default=None, help="PNG logo shown on the video and thumbnail")
    new.add_argument("--privacy", default="private", choices=["private", "unlisted", "public"])
    new.add_argument("--quiet", action="store_true", help="print only the new project's id")
    new.set_defaults(func=_cmd_new)

    run = sub.add_parser("run", help="run video_flow for a project (finished steps are reused)")
    run.add_argument("project_id", type=int)
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="make a video from a bundled sample project")
    demo.add_argument("--language", default="zh-TW", choices=sorted(SAMPLES))
    demo.set_defaults(func=_cmd_demo)

    creds = sub.add_parser("credentials", help="store cloud keys from the environment in a Prefect block")
    creds.add_argument("action", choices=["save", "show"])
    creds.add_argument("--name", default=None, help="block name (default: YTMAKER_CREDENTIALS_BLOCK or 'default')")
    creds.set_defaults(func=_cmd_credentials)

    dep = sub.add_parser("deploy", help="create the work pool, queues, limits, blocks and every deployment (idempotent)")
    dep.add_argument("--pool", default="ytmaker")
    dep.set_defaults(func=_cmd_deploy)

    worker = sub.add_parser("worker", help="start a process worker on the ytmaker pool")
    worker.add_argument("--pool", default="ytmaker")
    worker.add_argument("--name", default=None)
    worker.set_defaults(func=_cmd_worker)

    rec = sub.add_parser("recover", help="restart projects left in a running status by a dead worker")
    rec.add_argument("--how", default="auto", choices=["auto", "deployment", "here", "none"],
                     help="deployment run (auto when the video deployment exists), in this process, or only list")
    rec.set_defaults(func=_cmd_recover)

    doc = sub.add_parser("doctor", help="list and free step locks and concurrency slots held by dead processes")
    doc.add_argument("--dry-run", action="store_true", help="only list")
    doc.set_defaults(func=_cmd_doctor)

    show = sub.add_parser("show", help="show a project's status, error and assets")
    show.add_argument("project_id", type=int)
    show.set_defaults(func=_cmd_show)

    lst = sub.add_parser("list", help="list projects")
    lst.set_defaults(func=_cmd_list)

    prog = sub.add_parser("progress", help="watch a project's progress live (from Redis)")
    prog.add_argument("project_id", type=int)
    prog.add_argument("--timeout", type=float, default=600, help="give up after this many quiet seconds")
    prog.set_defaults(func=_cmd_progress)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ytmaker.runtime.memory import limit_malloc_arenas

    limit_malloc_arenas()  # this process and the workers and runs it starts
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except YtmakerError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
