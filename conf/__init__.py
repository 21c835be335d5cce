"""imitate's Hydra configs, installed as ``imitate.conf``.

Hydra imports this package to read ``pkg://imitate.conf``, so registering the compose-time schemas
here means every entry point, the compose API and each multirun job sees them (train.yaml lists
``train_schema`` first): see imitate/config_schema.py.
"""

from imitate.config_schema import register

register()
