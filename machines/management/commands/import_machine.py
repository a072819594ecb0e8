import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config.exceptions import PlatformError
from machines import services
from machines.models import Flow


class Command(BaseCommand):
    help = (
        "Import machines from seed-format JSON files (a missing flow named by "
        "smInfo.flowCode is created). Each file is imported whole or not at all."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--publish", action="store_true", help="publish after import")
        parser.add_argument("--online", action="store_true", help="publish and put online")
        parser.add_argument(
            "--skip-existing",
            action="store_true",
            help="skip a file whose flow already exists (make run uses this)",
        )

    def handle(self, *args, files, publish, online, skip_existing, **options):
        failed = 0
        for path in files:
            try:
                message = self._import(path, publish or online, online, skip_existing)
            except (OSError, ValueError, PlatformError) as exc:
                failed += 1
                self.stderr.write(f"{path}: {_describe(exc)}")
                continue
            self.stdout.write(f"{path}: {message}")
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) failed to import.")

    @transaction.atomic
    def _import(self, path: Path, publish: bool, online: bool, skip_existing: bool) -> str:
        data = json.loads(path.read_text())
        code = (data.get("smInfo") or {}).get("flowCode") if isinstance(data, dict) else None
        if skip_existing and code and Flow.objects.filter(code=code).exists():
            return f"skipped, flow {code} exists"
        machine = services.machine_create(data=data, create_flow=True)
        if publish:
            machine = services.machine_publish(machine=machine)
        if online:
            machine = services.machine_online(machine=machine)
        status = machine.get_status_display()
        return f"smId {machine.pk}, flow {machine.flow.code} v{machine.version}, {status}"


def _describe(exc: Exception) -> str:
    if isinstance(exc, PlatformError):
        problems = exc.details.get("problems", [])
        lines = [exc.message] + [
            f"  - {p.get('code') or p.get('path')}: {p['message']}" for p in problems
        ]
        return "\n".join(lines)
    return str(exc)
