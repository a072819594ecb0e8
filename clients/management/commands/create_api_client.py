from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clients.services import api_client_create


class Command(BaseCommand):
    help = "Create an API client (or update its roles) and print its token."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--roles", default="", help="comma-separated role codes, e.g. 1,2")
        parser.add_argument("--designer", action="store_true", help="may also use the design API")

    def handle(self, *args, name, roles, designer, **options):
        try:
            _, token = api_client_create(name=name, roles=roles, designer=designer)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(token)
