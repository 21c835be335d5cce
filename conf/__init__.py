"""imitate's Hydra configs, installed as ``imitate.conf``.

Hydra imports this package to read ``pkg://imitate.conf``, so registering the compose-time schemas
here means every entry point, the compose API and each multirun job sees them (each root YAML
lists ``<root>_schema`` first): see imitate/config_schema.py.
"""

from imitate.config_schema import register
from imitate.judge.config import JUDGING

for root in ("train", "evaluate", "generate"):
    register(root)
register("judging", JUDGING)
