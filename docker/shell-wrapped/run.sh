#!/bin/sh
# A typical wrapper script: it sets things up, then starts the app WITHOUT
# exec, so the shell stays the app's parent, as in many images
# (`java $JAVA_OPTS -jar app.jar`, `python app.py`). On TERM the shell dies
# at once; the app needs time to drain. drainit sends TERM to the whole
# process group and waits for every process of it, so the drain finishes.
# Docker's own --init (tini) signals only the shell, then exits when the
# shell does, and the kernel kills the app mid-drain.
echo "run.sh: starting $*"
"$@"
echo "run.sh: app exited with $?"
