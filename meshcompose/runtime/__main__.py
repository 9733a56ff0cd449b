"""`python -m meshcompose.runtime PLAN`: the detached supervisor of `up -d`
(see `meshcompose.runtime.detached`).

When `main` returns, everything the supervisor owns is closed (log files,
the socket, the lock; the state file is written atomically), and `down`
waits for this process to be gone: the interpreter's own teardown of
everything imported (0.1-0.2 s on a loaded machine) would only delay it.
So stdout and stderr (its log) are flushed and the process ends at once."""

import os
import sys

from meshcompose.runtime.detached import main

code = main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
