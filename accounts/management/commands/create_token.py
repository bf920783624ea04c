"""Create an API token for a user and print it (the only time it is shown)."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import APIToken
from accounts.services import TokenError, create_token


class Command(BaseCommand):
    help = "Create an API token for a user and print it once; only its sha256 is stored"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="what the token is for")
        parser.add_argument("--scope", choices=APIToken.Scope.values, default=APIToken.Scope.READ)
        parser.add_argument("--expires-days", type=int, default=None, help="days until it expires (default: never)")

    def handle(self, *args, username, name, scope, expires_days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        try:
            token, raw = create_token(user=user, name=name, scope=scope, expires_in_days=expires_days)
        except TokenError as exc:
            raise CommandError(str(exc)) from exc
        expiry = token.expires_at.isoformat() if token.expires_at else "never"
        self.stderr.write(f"created {scope} token {name!r} for {username} (expires: {expiry}); it is shown only now:")
        self.stdout.write(raw)
