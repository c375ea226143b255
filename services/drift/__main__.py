import sys

from watchkeeper.runtime.entry import main

if sys.argv[1:2] == ["reference"]:
    # A one-shot command beside the service: set or list references (reference_cli).
    from .reference_cli import main as reference

    sys.exit(reference(sys.argv[2:]))

from .spec import SPEC

sys.exit(main(SPEC))
