"""The Go-style API: a handler object keeps the state, ``run(handler)`` runs it.

``CreateVolumeHandler.actions()`` lists, in order:

1. validate request    - a check, nothing to undo (no compensation)
2. allocate quota      - undone by releasing it
3. create volume       - undone by deleting it
4. set default volume  - an update, undone by reverting to the previous value
5. attach volume       - the last step

Each action is a zero-argument method returning a ``Result``; it reads and
writes the handler's attributes (``self.quota_id``, ...), as the Go handlers
this API mirrors do. A listener prints the events, so you can watch the
compensations run in reverse.

Run it: ``python examples/go_style_handler.py``
"""

from __future__ import annotations

from dataclasses import dataclass, field

from returns.result import Failure, Result, Success

from typed_saga import (
    Action,
    CompensationFailed,
    CompensationSkipped,
    CompensationSucceeded,
    Event,
    StepFailed,
    StepSucceeded,
    run,
)


@dataclass(frozen=True)
class ValidationError:
    """The request is malformed."""

    reason: str


@dataclass(frozen=True)
class QuotaError:
    """The quota cannot cover the request."""

    reason: str


@dataclass(frozen=True)
class VolumeError:
    """The volume service refused."""

    reason: str


HandlerError = ValidationError | QuotaError | VolumeError


@dataclass
class Project:
    """A tenant's project in our pretend cloud (mutable: it is the world)."""

    quota_gb: int = 500
    allocated_gb: int = 0
    volumes: set[str] = field(default_factory=set)
    default_volume: str | None = "vol-legacy"
    instances: set[str] = field(default_factory=lambda: {"vm-1"})


class CreateVolumeHandler:
    """Create a volume, make it the project's default, attach it to an instance."""

    def __init__(
        self, project: Project, name: str, size_gb: int, instance: str
    ) -> None:
        self.project = project
        self.name = name
        self.size_gb = size_gb
        self.instance = instance
        # State the actions share, filled in as they run:
        self.allocated_gb = 0
        self.volume_id: str | None = None
        self.previous_default: str | None = None

    def actions(self) -> list[Action[HandlerError]]:
        """The steps, in order; ``run`` calls this exactly once."""
        return [
            Action("validate request", self.validate),
            Action("allocate quota", self.allocate_quota, self.release_quota),
            Action("create volume", self.create_volume, self.delete_volume),
            Action("set default volume", self.set_default, self.revert_default),
            Action("attach volume", self.attach),
        ]

    def validate(self) -> Result[None, ValidationError]:
        """Reject bad input before touching anything."""
        if not 1 <= self.size_gb <= 1000:
            return Failure(ValidationError(f"size {self.size_gb} GB is not in 1..1000"))
        return Success(None)

    def allocate_quota(self) -> Result[None, QuotaError]:
        """Reserve the volume's size in the project's quota."""
        free = self.project.quota_gb - self.project.allocated_gb
        if self.size_gb > free:
            return Failure(QuotaError(f"{self.size_gb} GB requested, {free} GB free"))
        self.project.allocated_gb += self.size_gb
        self.allocated_gb = self.size_gb
        return Success(None)

    def release_quota(self) -> Result[None, QuotaError]:
        """Undo allocate_quota."""
        self.project.allocated_gb -= self.allocated_gb
        return Success(None)

    def create_volume(self) -> Result[None, VolumeError]:
        """Create the volume; remember its id for the later steps."""
        volume_id = f"vol-{self.name}"
        if volume_id in self.project.volumes:
            return Failure(VolumeError(f"{volume_id} already exists"))
        self.project.volumes.add(volume_id)
        self.volume_id = volume_id
        return Success(None)

    def delete_volume(self) -> Result[None, VolumeError]:
        """Undo create_volume."""
        if self.volume_id is None:  # cannot happen: only called after create_volume
            return Failure(VolumeError("no volume was created"))
        self.project.volumes.discard(self.volume_id)
        return Success(None)

    def set_default(self) -> Result[None, VolumeError]:
        """An update: make the new volume the default, remembering the old one."""
        self.previous_default = self.project.default_volume
        self.project.default_volume = self.volume_id
        return Success(None)

    def revert_default(self) -> Result[None, VolumeError]:
        """Undo set_default: put the previous value back."""
        self.project.default_volume = self.previous_default
        return Success(None)

    def attach(self) -> Result[None, VolumeError]:
        """Attach the volume to the instance."""
        if self.instance not in self.project.instances:
            return Failure(VolumeError(f"instance {self.instance!r} not found"))
        return Success(None)


def narrate(event: Event) -> None:
    """A listener: print what happens to each step (names and errors only)."""
    match event:
        case StepSucceeded(step=name):
            print(f"  ok       {name}")
        case StepFailed(step=name, error=error):
            print(f"  FAILED   {name}: {error}")
        case CompensationSucceeded(step=name):
            print(f"  undone   {name}")
        case CompensationFailed(step=name, error=error):
            print(f"  UNDO FAILED {name}: {error}")
        case CompensationSkipped(step=name, reason=reason):
            print(f"  skipped  {name} ({reason})")
        case _:
            pass


def show(project: Project) -> str:
    """The parts of the project the handler changes."""
    return (
        f"allocated {project.allocated_gb} GB, volumes {sorted(project.volumes)}, "
        f"default {project.default_volume!r}"
    )


def main() -> int:
    """Three runs: success, failure at the last step, failure at validation."""
    ok = True
    cases = [
        (
            "attach to vm-1 (exists)",
            CreateVolumeHandler(Project(), "data", 100, "vm-1"),
        ),
        (
            "attach to vm-9 (missing)",
            CreateVolumeHandler(Project(), "data", 100, "vm-9"),
        ),
        ("size 0 (invalid)", CreateVolumeHandler(Project(), "data", 0, "vm-1")),
    ]
    for number, (title, handler) in enumerate(cases, start=1):
        print(f"{number}) {title}")
        before = show(handler.project)
        print(f"  before:  {before}")
        result = run(handler, listeners=[narrate])
        after = show(handler.project)
        print(f"  result:  {result}")
        print(f"  after:   {after}")
        if isinstance(result, Failure):
            unchanged = after == before
            print(f"  project unchanged by the failed run: {unchanged}")
            ok &= unchanged
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
