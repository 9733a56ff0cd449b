"""`python -m meshcompose.runtime PLAN`: the detached supervisor of `up -d`
(see `meshcompose.runtime.detached`)."""

import sys

from meshcompose.runtime.detached import main

raise SystemExit(main(sys.argv[1:]))
