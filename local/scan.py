"""`make scan`: checkov's security checks over the CloudFormation SAM deploys for template.yaml.

The scan reads SAM's translation (``local.iam.translate``), not the template as written: the
roles, stages and permissions SAM generates are what gets deployed, and checkov's IAM checks
(wildcard actions, privilege escalation, ...) only see them there.

Every finding is fixed in the template, or suppressed next to its resource with the reason:

    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_116
            comment: Invoked synchronously; a dead-letter queue catches asynchronous events only.

A resource SAM generates (``McpFunctionRole``, ``ChatKitApiStage``) takes the suppressions of
the resource it comes from (the one whose logical id begins its own). A suppression without a
reason fails the scan. checkov runs from its own venv (.venv-checkov); exit 1 on any finding.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from local.iam import translate
from local.template import TEMPLATE_PATH, Template


def scanned_template(template: Template) -> dict[str, Any]:
    """SAM's translation of ``template``, each generated resource carrying its source's suppressions."""
    translated = translate(template)
    sources = sorted(template.resources, key=len, reverse=True)
    for logical_id, resource in translated["Resources"].items():
        if "checkov" in resource.get("Metadata", {}):
            continue
        source = next((s for s in sources if logical_id.startswith(s)), None)
        skips = (template.resources.get(source, {}).get("Metadata") or {}).get("checkov") if source else None
        if skips:
            resource.setdefault("Metadata", {})["checkov"] = skips
    return translated


def unexplained_suppressions(template: Template) -> list[str]:
    """Suppressions that give no reason."""
    return [
        f"{logical_id}: suppresses {skip.get('id')} without a comment saying why"
        for logical_id, resource in template.resources.items()
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
        if not str(skip.get("comment", "")).strip()
    ]


def scan(template: Template, checkov: Path) -> tuple[list[str], int]:
    """The findings (one line each, naming check, resource and what it asks) and how many
    checks passed."""
    problems = unexplained_suppressions(template)
    with tempfile.TemporaryDirectory(prefix="scan-") as directory:
        path = Path(directory) / "template.json"
        path.write_text(json.dumps(scanned_template(template), default=str))
        done = subprocess.run(
            [
                str(checkov),
                "--file",
                str(path),
                "--framework",
                "cloudformation",
                "--output",
                "json",
                "--quiet",
                # Nothing from Prisma Cloud: the checks ship with checkov.
                "--skip-download",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"checkov failed ({done.returncode}):\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout)
    for failed in report.get("results", {}).get("failed_checks", []):
        resource = str(failed["resource"]).split(".", 1)[-1]
        problems.append(f"{resource}: {failed['check_id']} {failed['check_name']}")
    return problems, int(report.get("summary", {}).get("passed", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make scan", description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", type=Path, required=True, help="the checkov executable")
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH)
    args = parser.parse_args(argv)
    problems, passed = scan(Template.load(path=args.template), args.checkov)
    for line in problems:
        print(line, file=sys.stderr)
    print(
        f"scan: {len(problems)} findings, {passed} checks passed (checkov, on SAM's translation of {args.template.name})",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
