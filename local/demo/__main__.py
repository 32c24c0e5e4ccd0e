"""`python -m local.demo`: tell the story and exit with its result."""

import sys

from local.demo.story import main

sys.exit(main())
