"""``python -m typed_saga``: the provisioning demo (see :mod:`typed_saga._demo`).

Importing this module runs nothing; only executing it does.
"""

import sys

from typed_saga._demo import main

__all__ = ("main",)

if __name__ == "__main__":
    sys.exit(main())
