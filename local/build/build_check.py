"""`make build-check` (part of `make test`): build with SAM CLI, then load each handler as Lambda would.

1. `sam validate --lint` for both samconfig.toml environments (dev and prod), and the committed
   requirements.txt files against constraints.txt and the requirements.in files (offline: a stale
   pin stops the check at once, saying to run `make lock`).
2. `sam build` of template.yaml, for this machine's architecture (so the built packages can be
   imported here), into .local/build-check/ with SAM's build cache.
3. For every function, with only its built artifact, its layers' python/ folders and a stand-in
   for the runtime's own boto3 on ``sys.path`` (``python3.13 -I -S -B``: no site-packages, nothing written):
   - every installed distribution is the version constraints.txt pins (the one the tests ran);
   - no distribution is installed twice (artifact and layer, or two layers);
   - every distribution's own requirements are installed (Python 3.13 on Linux);
   - the handler module imports and names a callable (for a Web Adapter function: its ASGI app);
   - the function and its layers stay under Lambda's 250 MB unzipped.
4. Every layer's artifact holds each file of the layer's source as it is: data files too (the
   chat's widget templates, the MCP task view's HTML), which the code reads at run time.

It needs a python3.13 with pip (SAM builds for the function's Runtime with it). Without one the
check says so in one line and passes, except under CI=true, where it fails.

    python -m local.build.build_check --sam .venv-sam/bin/sam [--arch arm64] [--sizes]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import Distribution, distributions
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement

from local.build.lock import CONSTRAINTS, normalize, read_pins, stale
from local.emulator.runtime import function_environment
from local.template import REGION, ROOT, Template

WORK = ROOT / ".local" / "build-check"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
# What Lambda's Python runtime carries itself (in /var/runtime, after the layers on sys.path).
RUNTIME_PACKAGES = ("boto3",)
PROBE = """
import importlib, json, sys
paths, module, attribute = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path[:0] = paths
target = getattr(importlib.import_module(module), attribute)
if not callable(target):
    raise TypeError(f"{module}.{attribute} is not callable")
origins = {}
for name, loaded in list(sys.modules.items()):
    where = getattr(loaded, "__file__", None)
    if where and "." not in name:
        origins[name] = where
print(json.dumps(origins))
"""


class CheckFailed(Exception):
    """A finding that fails the check; the message names the function and what to fix."""


def find_python313() -> Path | None:
    """A working python3.13 with pip: on PATH, else the newest 3.13 of pyenv."""
    candidates = [shutil.which("python3.13")]
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    for root in filter(None, roots):
        candidates += sorted((str(p) for p in Path(root).glob("versions/3.13*/bin/python3.13")), reverse=True)
    for candidate in filter(None, candidates):
        # pyenv's shim is on PATH even where no 3.13 is selected, and then fails: try each.
        done = subprocess.run(
            [candidate, "-m", "pip", "--version"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and "(python 3.13)" in done.stdout:
            return Path(candidate)
    return None


def machine_architecture() -> str:
    return "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"


def stage_sources(template: Template, stage: Path) -> Path:
    """Copies of every function's and layer's folder under ``stage``, without bytecode.

    SAM's build cache hashes a folder's files, and the tests leave __pycache__ beside the code:
    built from the repository itself, every test run would cost a rebuild.
    """
    shutil.rmtree(stage, ignore_errors=True)
    for resource in template.body["Resources"].values():
        uri = resource.get("Properties", {}).get("CodeUri") or resource.get("Properties", {}).get(
            "ContentUri"
        )
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion") and uri:
            shutil.copytree(
                ROOT / uri,
                stage / uri,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                dirs_exist_ok=True,
            )
    return stage


def build_template(template: Template, architecture: str, sources: Path = ROOT) -> dict[str, Any]:
    """template.yaml for ``architecture``, with code paths made absolute under ``sources``."""
    body = copy.deepcopy(template.body)
    body.setdefault("Globals", {}).setdefault("Function", {})["Architectures"] = [architecture]
    for resource in body["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if "Architectures" in props:
                props["Architectures"] = [architecture]
            if "CodeUri" in props:
                props["CodeUri"] = str(sources / props["CodeUri"])
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = str(sources / props["ContentUri"])
            props["CompatibleArchitectures"] = [architecture]
            if "BuildArchitecture" in resource.get("Metadata", {}):
                resource["Metadata"]["BuildArchitecture"] = architecture
    return body


def run(command: list[str], env: dict[str, str] | None = None, what: str = "") -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise CheckFailed(f"{what or command[0]} failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return done.stdout


def sam_env(python: Path | None) -> dict[str, str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    if python is not None:  # SAM finds the runtime's interpreter as `python3.13` on PATH
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def validate(sam: str) -> None:
    def one(environment: str) -> str:
        return run(
            [sam, "validate", "--lint", "--config-env", environment],
            sam_env(None),
            f"sam validate --lint ({environment})",
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, ("default", "prod")))


def sam_build(sam: str, python: Path, template: Template, architecture: str) -> tuple[Path, Path]:
    """``sam build`` of the staged sources; where it built, and the sources it staged."""
    out = WORK / architecture
    out.mkdir(parents=True, exist_ok=True)
    template_path = out / "template.json"
    sources = stage_sources(template, out / "sources")
    template_path.write_text(json.dumps(build_template(template, architecture, sources), indent=1))
    build_dir = out / "build"
    run(
        [sam, "build", "--template-file", str(template_path), "--build-dir", str(build_dir),
         "--cached", "--cache-dir", str(out / "cache"), "--parallel"],
        sam_env(python), "sam build",
    )  # fmt: skip
    return build_dir, sources


def runtime_stand_in(python: Path) -> Path:
    """The boto3 Lambda's runtime brings, at the version the tests pin, installed once."""
    target = WORK / "runtime"
    stamp = target / ".pins"
    pins = json.dumps({name: read_pins(CONSTRAINTS)[name] for name in RUNTIME_PACKAGES})
    if stamp.exists() and stamp.read_text() == pins:
        return target
    shutil.rmtree(target, ignore_errors=True)
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target),
         *RUNTIME_PACKAGES, "-c", str(CONSTRAINTS)], what="installing the runtime's boto3")  # fmt: skip
    stamp.write_text(pins)
    return target


@dataclass(frozen=True)
class Installed:
    name: str  # normalized
    version: str
    where: str  # the artifact (logical id) or "runtime"
    distribution: Distribution


def installed(directory: Path, where: str) -> list[Installed]:
    return [
        Installed(normalize(d.metadata["Name"]), d.version, where, d)
        for d in distributions(path=[str(directory)])
    ]


MARKER_ENV = {
    "python_version": "3.13", "python_full_version": "3.13.0", "implementation_name": "cpython",
    "platform_python_implementation": "CPython", "sys_platform": "linux", "platform_system": "Linux",
    "os_name": "posix", "extra": "",
}  # fmt: skip


def check_distributions(logical_id: str, found: list[Installed], tested: dict[str, str]) -> None:
    shipped = [item for item in found if item.where != "runtime"]
    seen: dict[str, str] = {}
    for item in shipped:
        if item.name in seen:
            raise CheckFailed(f"{logical_id}: {item.name} ships twice ({seen[item.name]} and {item.where})")
        seen[item.name] = item.where
        if tested.get(item.name) != item.version:
            raise CheckFailed(
                f"{logical_id}: {item.where} ships {item.name} {item.version}, the tests run "
                f"{tested.get(item.name, 'none')} (constraints.txt): run `make lock`"
            )
    by_name = {item.name: item for item in found}
    for item in found:
        for line in item.distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not Marker(str(requirement.marker)).evaluate(MARKER_ENV):
                continue
            present = by_name.get(normalize(requirement.name))
            if present is None or not requirement.specifier.contains(present.version, prereleases=True):
                raise CheckFailed(
                    f"{logical_id}: {item.name} ({item.where}) requires {requirement}, "
                    f"found {present.version if present else 'nothing'}: add it to a requirements.in, run `make lock`"
                )


def check_layer_files(layer: str, source: Path, artifact: Path) -> int:
    """Every file of a layer's source is in its built artifact (``<layer>/python``) byte for byte;
    how many there are."""
    files = [path for path in source.rglob("*") if path.is_file()]
    for path in files:
        built = artifact / path.relative_to(source)
        if not built.is_file() or built.read_bytes() != path.read_bytes():
            raise CheckFailed(
                f"{layer}: {path.relative_to(source)} is not in its built artifact as in the source"
            )
    return len(files)


def import_handler(
    python: Path, logical_id: str, paths: list[Path], template: Template, code_dir: Path
) -> dict[str, str]:
    spec = template.functions()[logical_id]
    module, attribute = spec.web_app() if spec.web_adapter else spec.handler.rsplit(".", 1)
    fake_aws = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        # Nothing may call AWS at import; if something does, it fails at once on a closed port.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }  # fmt: skip
    env = {**function_environment(spec, fake_aws, REGION), "LAMBDA_TASK_ROOT": str(code_dir)}
    done = subprocess.run(
        [str(python), "-I", "-S", "-B", "-c", PROBE, json.dumps([str(p) for p in paths]), module, attribute],
        capture_output=True, text=True, env=env, cwd=code_dir, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise CheckFailed(
            f"{logical_id}: importing {module}.{attribute} from the built artifact failed:\n{done.stderr[-3000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_origins(logical_id: str, origins: dict[str, str], allowed: list[Path]) -> None:
    """Every module came from ``allowed``: the artifact, its layers, the runtime's boto3, the standard library."""
    strays = {
        name: where
        for name, where in origins.items()
        if not any(Path(where).is_relative_to(a) for a in allowed)
    }
    if strays:
        raise CheckFailed(f"{logical_id}: modules loaded from outside the artifact and its layers: {strays}")


def size(directory: Path, zipped: bool) -> tuple[int, int | None]:
    files = [p for p in directory.rglob("*") if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    if not zipped:
        return unzipped, None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(directory))
    return unzipped, len(buffer.getvalue())


def human(count: int | None) -> str:
    if count is None:
        return "-"
    return f"{count / 1e6:.2f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"


def check(sam: str, python: Path, architecture: str, sizes: bool) -> list[str]:
    template = Template.load()
    tested = read_pins(CONSTRAINTS)
    report: list[str] = []
    started = time.monotonic()
    build_dir, sources = sam_build(sam, python, template, architecture)
    report.append(f"sam build ({architecture}): {time.monotonic() - started:.0f} s")
    importable = architecture == machine_architecture()
    runtime = runtime_stand_in(python) if importable else None
    stdlib = Path(
        run([str(python), "-I", "-S", "-c", "import os; print(os.path.dirname(os.__file__))"]).strip()
    )

    def check_function(logical_id: str) -> bool:
        layers = [
            layer["Ref"]
            for layer in template.function_layers(logical_id)
            if isinstance(layer, dict) and "Ref" in layer
        ]
        artifact = build_dir / logical_id
        layer_dirs = [build_dir / layer / "python" for layer in layers]
        found = installed(artifact, logical_id)
        for layer, directory in zip(layers, layer_dirs):
            found += installed(directory, layer)
        if runtime is not None:
            found += installed(runtime, "runtime")
        check_distributions(logical_id, found, tested)
        total = sum(size(d, False)[0] for d in (artifact, *layer_dirs))
        if total > LAMBDA_UNZIPPED_LIMIT:
            raise CheckFailed(f"{logical_id}: {human(total)} unzipped with its layers, over Lambda's 250 MB")
        if runtime is None:
            return False
        paths = [artifact, *layer_dirs, runtime]
        check_origins(
            logical_id, import_handler(python, logical_id, paths, template, artifact), [*paths, stdlib]
        )
        return True

    # Each import is its own interpreter: two at a time, as the machine's two cores allow.
    with ThreadPoolExecutor(max_workers=2) as pool:
        imported = sum(pool.map(check_function, template.functions()))
    report.append(
        f"{imported} handlers imported from their artifacts, pins match constraints.txt, nothing ships twice"
        if importable
        else f"imports skipped: {architecture} artifacts do not run on this {machine_architecture()} machine"
    )
    carried = sum(
        check_layer_files(layer, sources / resource["Properties"]["ContentUri"], build_dir / layer / "python")
        for layer, resource in template.resources_of_type("AWS::Serverless::LayerVersion").items()
    )
    report.append(f"  layers carry all {carried} files of their sources")
    for directory in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        unzipped, zipped = size(directory, sizes)
        report.append(f"  {directory.name:30} {human(unzipped):>10} unzipped {human(zipped):>10} zipped")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sam", default=shutil.which("sam") or "sam", help="the sam executable")
    parser.add_argument("--arch", default=machine_architecture(), choices=["arm64", "x86_64"])
    parser.add_argument(
        "--sizes", action="store_true", help="also zip each artifact to report its zipped size"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        problems = stale()
        if problems:
            raise CheckFailed(
                "the pinned requirements are stale; run `make lock`:\n  " + "\n  ".join(problems)
            )
        validate(args.sam)
        python = find_python313()
        if python is None:
            line = "build check: no python3.13 with pip on this machine (PATH or pyenv), so sam build and the artifact imports did not run"
            print(line, file=sys.stderr)
            return 1 if os.environ.get("CI") == "true" else 0
        report = check(args.sam, python, args.arch, args.sizes)
    except CheckFailed as failure:
        print(f"build check FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"build check ({time.monotonic() - started:.0f} s, {python}): sam validate --lint passed (dev, prod); "
          + "; ".join(report[:2]), file=sys.stderr)  # fmt: skip
    print("\n".join(report[2:]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
