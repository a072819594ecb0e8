import json

from django.core.management.base import BaseCommand, CommandError

from config.exceptions import NotFound
from machines.selectors import machine_export, machine_get


class Command(BaseCommand):
    help = "Print a machine in the seed interchange format."

    def add_arguments(self, parser):
        parser.add_argument("sm_id", type=int)

    def handle(self, *args, sm_id, **options):
        try:
            machine = machine_get(sm_id=sm_id)
        except NotFound as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(machine_export(machine=machine), indent=2, ensure_ascii=False))
