"""`python -m tonecraft.cli ...` (what torchrun launches): the same router as the `tonecraft` command."""
import sys

from . import main

sys.exit(main())
