import sys

from watchkeeper.runtime.entry import main

from .spec import SPEC

sys.exit(main(SPEC))
