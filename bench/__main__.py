"""`python -m bench` runs the suite; `python -m bench profile` profiles the sync hot path."""

import sys

if sys.argv[1:2] == ["profile"]:
    from bench.profile import main

    sys.exit(main(sys.argv[2:]))
else:
    from bench.run import main

    sys.exit(main(sys.argv[1:]))
