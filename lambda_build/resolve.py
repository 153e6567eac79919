"""Resolve: lambda/requirements.txt (hand-edited pins) -> lambda/requirements.lock (every distribution,
exact version, sha256 of the one wheel the target installs).

The lock is made by the runtime Python's own pip (`pip install --dry-run --report` with the target's
platform tags, binary wheels only), so environment markers are evaluated for the Lambda's Python
version, and it records which top-level requirements it was made from: `check_lock` compares them
with lambda/requirements.txt and says how to refresh (`make lock`) when they differ.

A refresh keeps the current pins of distributions that are still needed (they are passed to pip as
constraints) unless `upgrade=True` (`make lock-upgrade`), like pip-compile.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lambda_build.errors import BundleError, log, run
from lambda_build.sources import LOCK_FILE, REPO_ROOT, REQUIREMENTS
from lambda_build.target import Target, pip_command, pip_env

REFRESH_HINT = "run `make lock` (python -m lambda_build lock) and commit lambda/requirements.lock"

_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(.*)$")
_ENTRY = re.compile(r"^([a-z0-9][a-z0-9-]*)==([^\s\\]+)\s*\\?$")
_HASH = re.compile(r"^--hash=sha256:([0-9a-f]{64})\s*\\?$")
_HEADER = re.compile(r"^# (target|requirement): (.+)$")


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name (`Foo_Bar.baz` -> `foo-bar-baz`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(text: str) -> list[str]:
    """The requirements of a requirements file, normalised: no comments or blanks, no spaces,
    canonical names; sorted. Option lines (`-r`, `--index-url`) are kept as written."""
    out: list[str] = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            out.append(line)
            continue
        match = _NAME.match(line)
        if not match:
            raise BundleError(f"{REQUIREMENTS}: cannot parse requirement {raw.strip()!r}")
        out.append(canonical_name(match.group(1)) + re.sub(r"\s+", "", match.group(2)))
    return sorted(out)


@dataclass(frozen=True)
class LockedDist:
    """One locked distribution."""

    name: str  # canonical
    version: str
    sha256: str
    wheel: str = ""  # file name, for readers
    via: tuple[str, ...] = ()  # locked distributions that require it; empty for top-level ones


@dataclass(frozen=True)
class Lock:
    """A parsed lock file."""

    target: str  # "python3.13 x86_64"
    requirements: tuple[str, ...]  # normalised lines of lambda/requirements.txt it was made from
    dists: tuple[LockedDist, ...]

    def versions(self) -> dict[str, str]:
        """Canonical name -> locked version."""
        return {d.name: d.version for d in self.dists}


def render_lock(lock: Lock) -> str:
    """The lock file's text (pip requirements format: `name==version --hash=sha256:...`)."""
    lines = [
        f"# {LOCK_FILE}: every distribution of the project Lambda bundle, pinned, with the sha256 of",
        "# the wheel the target installs (pip --require-hashes). Generated from lambda/requirements.txt",
        "# by `make lock` (python -m lambda_build lock); do not edit by hand.",
        f"# target: {lock.target}",
        *(f"# requirement: {req}" for req in lock.requirements),
        "",
    ]
    for dist in sorted(lock.dists, key=lambda d: d.name):
        lines.append(f"{dist.name}=={dist.version} \\")
        lines.append(f"    --hash=sha256:{dist.sha256}")
        origin = f"via {', '.join(dist.via)}" if dist.via else "from lambda/requirements.txt"
        lines.append(f"    # {dist.wheel}, {origin}")
    return "\n".join(lines) + "\n"


def parse_lock(text: str, *, source: str = LOCK_FILE) -> Lock:
    """Parse a lock file written by `render_lock`; BundleError naming the line otherwise."""
    target = ""
    requirements: list[str] = []
    dists: list[LockedDist] = []
    pending: tuple[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        header = _HEADER.match(line)
        if header:
            if header.group(1) == "target":
                target = header.group(2).strip()
            else:
                requirements.append(header.group(2).strip())
            continue
        if not line or line.startswith("#"):
            continue
        entry, digest = _ENTRY.match(line), _HASH.match(line)
        if entry and pending is None:
            pending = (entry.group(1), entry.group(2))
        elif digest and pending is not None:
            dists.append(LockedDist(pending[0], pending[1], digest.group(1)))
            pending = None
        else:
            raise BundleError(f"{source}:{number}: unexpected line {raw!r}; {REFRESH_HINT}")
    if pending is not None or not target:
        raise BundleError(f"{source}: truncated or without a '# target:' line; {REFRESH_HINT}")
    return Lock(target, tuple(sorted(requirements)), tuple(dists))


def read_lock(repo_root: Path = REPO_ROOT) -> Lock:
    """The repository's lock file, parsed; BundleError saying how to make it if missing."""
    path = repo_root / LOCK_FILE
    if not path.is_file():
        raise BundleError(f"{LOCK_FILE} is missing: {REFRESH_HINT}")
    return parse_lock(path.read_text(encoding="utf-8"))


def check_lock(target: Target, repo_root: Path = REPO_ROOT) -> Lock:
    """The lock, if it was made for `target` from the current lambda/requirements.txt.

    Otherwise BundleError naming the requirements added and removed since, and the command that
    refreshes it.
    """
    lock = read_lock(repo_root)
    current = requirement_lines((repo_root / REQUIREMENTS).read_text(encoding="utf-8"))
    if tuple(current) != lock.requirements:
        added = sorted(set(current) - set(lock.requirements)) or ["none"]
        removed = sorted(set(lock.requirements) - set(current)) or ["none"]
        raise BundleError(
            f"{LOCK_FILE} is out of date with {REQUIREMENTS} (added: {', '.join(added)}; removed: "
            f"{', '.join(removed)}): {REFRESH_HINT}"
        )
    if lock.target != target.label:
        raise BundleError(
            f"{LOCK_FILE} is locked for {lock.target}, the function runs on {target.label}: run "
            f"`python -m lambda_build lock --runtime {target.runtime_name} --arch {target.arch}` "
            "and commit lambda/requirements.lock"
        )
    return lock


def _report_dists(report: dict) -> list[LockedDist]:
    """Locked distributions from a `pip install --report` document (version 1)."""
    items = report.get("install", [])
    names = {canonical_name(item["metadata"]["name"]) for item in items}
    required_by: dict[str, set[str]] = {name: set() for name in names}
    for item in items:
        parent = canonical_name(item["metadata"]["name"])
        for spec in item["metadata"].get("requires_dist") or []:
            match = _NAME.match(spec.strip())
            child = canonical_name(match.group(1)) if match else ""
            if child in required_by and child != parent:
                required_by[child].add(parent)
    dists = []
    for item in items:
        name = canonical_name(item["metadata"]["name"])
        info = item.get("download_info", {})
        url = info.get("url", "")
        sha256 = info.get("archive_info", {}).get("hashes", {}).get("sha256")
        wheel = url.rsplit("/", 1)[-1]
        if not sha256 or not wheel.endswith(".whl"):
            raise BundleError(f"pip resolved {name} to {url!r} without a wheel sha256; cannot lock it")
        via = () if item.get("requested") else tuple(sorted(required_by[name]))
        dists.append(LockedDist(name, item["metadata"]["version"], sha256, wheel, via))
    return sorted(dists, key=lambda d: d.name)


def resolve(
    target: Target, *, python: str, repo_root: Path = REPO_ROOT, keep: dict[str, str] | None = None
) -> Lock:
    """Resolve lambda/requirements.txt for `target` with the runtime's pip (nothing is installed).

    `keep` (name -> version) pins distributions that remain needed, as pip constraints.
    """
    requirements = repo_root / REQUIREMENTS
    with tempfile.TemporaryDirectory(prefix="lambda-lock.") as tmp:
        report = Path(tmp, "report.json")
        cmd = [
            *pip_command(python),
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--report",
            str(report),
            "--requirement",
            str(requirements),
            *target.pip_target_args(),
        ]
        if keep:
            constraints = Path(tmp, "constraints.txt")
            constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(keep.items())), encoding="utf-8")
            cmd += ["--constraint", str(constraints)]
        try:
            run(cmd, what=f"resolving {REQUIREMENTS} for {target.label}", env=pip_env(), timeout=600)
        except BundleError as exc:
            if keep:
                raise BundleError(
                    f"{exc}\nThe current pins of {LOCK_FILE} conflict with {REQUIREMENTS}: re-resolve "
                    "every distribution with `make lock-upgrade` (python -m lambda_build lock --upgrade)"
                ) from None
            raise
        data = json.loads(report.read_text(encoding="utf-8"))
    text = requirements.read_text(encoding="utf-8")
    return Lock(target.label, tuple(requirement_lines(text)), tuple(_report_dists(data)))


def write_lock(target: Target, *, python: str, repo_root: Path = REPO_ROOT, upgrade: bool = False) -> Path:
    """(Re)write lambda/requirements.lock for `target`; keeps current pins unless `upgrade`."""
    path = repo_root / LOCK_FILE
    keep: dict[str, str] = {}
    if path.is_file() and not upgrade:
        try:
            keep = parse_lock(path.read_text(encoding="utf-8")).versions()
        except BundleError:
            keep = {}
    lock = resolve(target, python=python, repo_root=repo_root, keep=keep)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    new = render_lock(lock)
    path.write_text(new, encoding="utf-8")
    changed = sorted(
        f"{d.name} {keep.get(d.name, '(new)')} -> {d.version}"
        for d in lock.dists
        if keep.get(d.name) != d.version
    )
    gone = sorted(set(keep) - {d.name for d in lock.dists})
    log(
        f"{LOCK_FILE}: {len(lock.dists)} distributions for {target.label}"
        + ("" if old != new else ", unchanged")
    )
    for line in changed:
        log(f"  {line}")
    for name in gone:
        log(f"  {name} removed")
    return path
