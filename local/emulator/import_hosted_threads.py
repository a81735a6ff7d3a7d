"""`make import-hosted-threads [USER=<id>] [DRY_RUN=1]`: hosted ChatKit threads into the running
local stack's ChatKitTable.

It runs ImportHostedThreadsFunction's code (``chatkit_backend.migration.hosted_import``) in this
process, in the function's template environment, against the `make dev` stack's AWS, as
`make rotate` runs RotationFunction's: the OpenAI key is the one in the stack's
OpenAIApiKeySecret, and OPENAI_BASE_URL is what `make dev` was started with. No Lambda time
limit applies here, so one run goes to the end (Ctrl-C stops it; the next run resumes).

One line per thread on stdout as it is done, then the summary: threads and items imported,
skipped and failed. The function's own JSON logs (warnings: retries, items that could not be
converted) go to stderr. Exit 0 when every thread was imported or already up to date, 1 when a
thread failed or the run stopped (run it again: it resumes), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from local.emulator.runtime import function_environment
from local.emulator.stack import LocalAws, running_stack_state
from local.template import Template

FUNCTION = "ImportHostedThreadsFunction"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make import-hosted-threads", description=__doc__.splitlines()[0])
    parser.add_argument("--user", help="import this user's threads only (USER=<id>)")
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be imported, write nothing (DRY_RUN=1)"
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    state = running_stack_state()
    if state is None:
        print(
            "make import-hosted-threads: no local stack is running; start one with `make dev` (in another terminal) first",
            file=sys.stderr,
        )
        return 1
    template = Template.load({k: v for k, v in (state.get("parameters") or {}).items() if isinstance(v, str)})
    template.physical_ids.update(state["resources"])
    spec = template.functions()[FUNCTION]
    aws = LocalAws(state["aws_endpoint_url"], state["region"])
    os.environ.clear()
    # Warnings and errors only: retries, items that could not be converted, failed threads.
    os.environ.update(
        {
            **function_environment(spec, aws.environment(spec.logical_id), aws.region),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    sys.path[:0] = [str(directory) for directory in (spec.code_dir, *spec.layer_dirs)]
    # The function logs to stdout (Powertools binds it when the logger is made): here, stderr.
    with contextlib.redirect_stdout(sys.stderr):
        from chatkit_backend.errors import DomainError
        from chatkit_backend.migration.hosted_import import HostedImport, ImportSettings
        from chatkit_backend.migration.progress import ImportRequest, ThreadOutcome

        try:
            request = ImportRequest.from_event(
                {"user": args.user, "dry_run": args.dry_run} if args.user else {"dry_run": args.dry_run}
            )
        except DomainError as error:
            print(f"make import-hosted-threads: {error.detail}", file=sys.stderr)
            return 2
        settings = ImportSettings.from_env()
        upstream = settings.openai_base_url or "https://api.openai.com/v1"
        whose = f"user {args.user}" if args.user else "every user"
        mode = " (dry run: nothing is written)" if args.dry_run else ""
        print(
            f"importing hosted ChatKit threads of {whose} from {upstream} into {settings.chatkit_table}{mode}",
            file=out,
            flush=True,
        )
        done = 0

        def progress(outcome: ThreadOutcome) -> None:
            nonlocal done
            done += 1
            print(f"[{done}] {outcome.line(args.dry_run)}", file=out, flush=True)

        try:
            result = HostedImport(settings).run(request, progress=progress)
        except DomainError as error:
            print(f"make import-hosted-threads: {error.detail}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(
                "interrupted: run it again to resume (threads already imported are skipped)", file=sys.stderr
            )
            return 130
    print(
        f"{'done' if result.done else 'stopped'}: {result.totals.summary(args.dry_run)}", file=out, flush=True
    )
    if result.error:
        print(f"make import-hosted-threads: {result.error}", file=sys.stderr)
    return 0 if result.done and not result.totals.threads["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
