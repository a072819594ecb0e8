from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clients.services import api_client_create, api_client_grants


class Command(BaseCommand):
    help = (
        "Create an API client (or update it at once) and print its token. A client works only "
        "on the flows granted to it: --flows a,b (replaces its grants) or --all-flows."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--roles", default="", help="comma-separated role codes, e.g. 1,2")
        grants = parser.add_mutually_exclusive_group()
        grants.add_argument("--flows", help="comma-separated flow codes; replaces its grants")
        grants.add_argument(
            "--all-flows", action="store_true", help="every flow, those made later too"
        )
        parser.add_argument("--designer", action="store_true", help="may use the design API")
        parser.add_argument(
            "--operator", action="store_true", help="may replay failed events and migrate"
        )

    def handle(self, *args, name, roles, flows, all_flows, designer, operator, **options):
        try:
            client, token = api_client_create(
                name=name,
                roles=roles,
                designer=designer,
                operator=operator,
                flows=flows.split(",") if flows is not None else None,
                all_flows=all_flows,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if not api_client_grants(client=client):
            self.stderr.write(
                f"Client {name!r} has no flow: it sees nothing until granted some "
                "(--flows a,b or --all-flows)."
            )
        self.stdout.write(token)
