"""Statecenter's benchmark suite (issue 7): `python -m bench` or `make bench`; see README.md."""
