"""Secrets production refuses: at the start of every process, and in `check --deploy`."""

from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

# Values this repository writes down, now or in its history: old defaults, placeholders,
# examples, the tests' signing key. Anyone can read them, so they protect nothing.
WRITTEN_IN_THE_REPOSITORY = frozenset(
    {
        "insecure-dev-only-change-me",
        "whsec_c3RhdGVjZW50ZXItZGV2LW9ubHktc2VjcmV0",
        "change-me",
        "change-me-to-a-long-random-string",
        "whsec_change-me-base64",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
)
# What a development process (DEBUG=true) signs with when the variable is unset.
DEVELOPMENT = {
    "SECRET_KEY": "insecure-dev-only-change-me",
    "CALLBACK_SECRET": "whsec_c3RhdGVjZW50ZXItZGV2LW9ubHktc2VjcmV0",
}
HINT = "`make install` writes random ones into .env; in production set them in the environment"


def secret_problem(name: str, value: str) -> str | None:
    """Why this value of a secret must not sign anything in production, or None."""
    if not value.removeprefix("whsec_").strip():  # "whsec_" alone is an empty key
        return f"{name} is not set"
    if value in WRITTEN_IN_THE_REPOSITORY or "change-me" in value.lower():
        return f"{name} is a value written in the repository"
    return None


def secret_from_env(env, name: str, *, debug: bool) -> str:
    """A secret from the environment; with debug off, a missing or known one stops the process."""
    value = env.str(name, default="")
    problem = secret_problem(name, value)
    if problem is None:
        return value
    if debug:
        return value or DEVELOPMENT[name]
    # Never a random stand-in: every process and machine must sign with the same secret.
    raise ImproperlyConfigured(f"{problem}, and DEBUG=false needs a random one of its own: {HINT}.")


@register(Tags.security, deploy=True)
def check_secrets(app_configs, **kwargs):
    """`check --deploy` names a secret a development process is running with."""
    from django.conf import settings

    return [
        Error(problem, hint=HINT, id="statecenter.E001")
        for name in DEVELOPMENT
        if (problem := secret_problem(name, getattr(settings, name)))
    ]
