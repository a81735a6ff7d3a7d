"""`make scan`: checkov's security checks over the CloudFormation SAM deploys for template.yaml.

The scan reads SAM's translation (``local.emulator.iam.translate``), not the template as written: the
roles, stages and permissions SAM generates are what gets deployed, and checkov's IAM checks
(wildcard actions, privilege escalation, ...) only see them there.

Every finding is fixed in the template, or suppressed with the reason: next to its resource,

    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_120
            comment: POST /chatkit answers each user's own stream; a cache would replay one user's answer.

or, when every resource of a type has the same reason, once for the type in the template's own
``Metadata`` (``checkov.skip_by_type``, with ``except`` naming resources it does not apply to).
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

from local.emulator.iam import translate
from local.template import TEMPLATE_PATH, Template


def suppressions(template: Template, logical_id: str) -> list[dict[str, Any]]:
    """The checks suppressed on a resource of the template: its own, and its type's."""
    resource = template.resources[logical_id]
    own = ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    by_type = ((template.body.get("Metadata") or {}).get("checkov") or {}).get("skip_by_type", {})
    typed = [
        {"id": skip["id"], "comment": skip.get("comment", "")}
        for skip in by_type.get(resource.get("Type"), [])
        if logical_id not in skip.get("except", [])
    ]
    return [*own, *typed]


def scanned_template(template: Template) -> dict[str, Any]:
    """SAM's translation of ``template``, each resource carrying its suppressions (a generated one,
    those of the resource it comes from)."""
    translated = translate(template)
    sources = sorted(template.resources, key=len, reverse=True)
    for logical_id, resource in translated["Resources"].items():
        source = next((s for s in sources if logical_id.startswith(s)), None)
        skips = suppressions(template, source) if source else []
        if skips:
            resource.setdefault("Metadata", {})["checkov"] = {"skip": skips}
    return translated


def unexplained_suppressions(template: Template) -> list[str]:
    """Suppressions that give no reason."""
    return [
        f"{logical_id}: suppresses {skip.get('id')} without a comment saying why"
        for logical_id in template.resources
        for skip in suppressions(template, logical_id)
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
