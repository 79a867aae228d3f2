"""``python -m neuropose_assets.cli``: the same as the ``neuropose-assets`` command."""

import sys

from neuropose_assets.cli import main

sys.exit(main())
