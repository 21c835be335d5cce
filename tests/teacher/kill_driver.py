"""`python -m tests.teacher.kill_driver OUTPUT CALL_LOG`: an NQ-synthetic run the reliability test kills."""

from __future__ import annotations

import sys

from tests.support.teacher_jobs import make_job
from tests.teacher.scripted import ScriptedLLM

SETTINGS = {"n_examples": 50, "batch_size": 3}

if __name__ == "__main__":
    output, call_log = sys.argv[1], sys.argv[2]
    make_job(output, **SETTINGS).run(ScriptedLLM(call_log=call_log, delay_s=0.05))
