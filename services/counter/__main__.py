import sys

from .app import build
from .config import CounterConfig

sys.exit(build(CounterConfig.from_env()).run())
