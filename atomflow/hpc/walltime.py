"""Walltime-safe runs: trap the scheduler's warning signal and forward it to the task.

A job asks the scheduler for a warning some seconds before its time limit (Slurm
``--signal=B:USR1@N``, Grid Engine ``-l s_rt`` + ``-notify``, LSF ``-wa USR1 -wt M``; PBS has
no such request, so the script starts its own timer). The batch shell runs the task in the
background and waits for it; on the warning it sends ``SIGUSR1`` to the task process (or to
the MPI launcher, which passes it on to the ranks). The task is expected to write a restart
at the next safe point and exit with :data:`EXIT_REQUEUE` (99): "run me again".

The snippet defines one shell function, ``atomflow_run ARGV...``, whose exit status is the
task's. Everything here is text generation; nothing is executed.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Exit code of a task that stopped at a restart point and wants to be run again.
EXIT_REQUEUE = 99

#: Signal the task process receives as the walltime warning.
TASK_SIGNAL = "USR1"

_SIGNALS = {"USR1", "USR2", "TERM", "INT", "HUP", "XCPU"}


def runner_snippet(
    warn_signals: Sequence[str] = ("USR1",),
    timer_seconds: int | None = None,
) -> str:
    """Bash that defines ``atomflow_run`` with traps for ``warn_signals``.

    ``timer_seconds`` starts an in-script timer that sends ``SIGUSR1`` to the batch shell
    after that many seconds: the fallback for schedulers without a warning signal (PBS).
    ``SIGTERM`` (what every scheduler sends at the limit or on cancel) is always forwarded
    as ``SIGTERM``.
    """
    for sig in warn_signals:
        if sig not in _SIGNALS:
            raise ValueError(f"unknown warning signal {sig!r}; use one of {sorted(_SIGNALS)}")
    if timer_seconds is not None and (not isinstance(timer_seconds, int) or timer_seconds < 1):
        raise ValueError(f"timer_seconds must be a positive int, not {timer_seconds!r}")
    traps = "\n".join(f"trap 'atomflow_forward {sig} {TASK_SIGNAL}' {sig}" for sig in warn_signals)
    timer = ""
    if timer_seconds is not None:
        timer = (
            "# no scheduler warning signal: start a timer that sends one to this shell\n"
            "( trap 'kill $s 2>/dev/null; exit 0' TERM; "
            f"sleep {timer_seconds} & s=$!; wait $s && kill -s USR1 $$ ) >/dev/null 2>&1 &\n"
            "atomflow_timer=$!\n"
        )
    return f"""\
# --- walltime-safe run: forward the scheduler's warning to the task -----------
atomflow_child=""
atomflow_timer=""
atomflow_forward() {{
  echo "atomflow: received SIG$1 at $(date '+%F %T');" \
    "sending SIG$2 to task ${{atomflow_child:-(none)}}" >&2
  if [ -n "$atomflow_child" ]; then kill -s "$2" "$atomflow_child" 2>/dev/null; fi
}}
{traps}
trap 'atomflow_forward TERM TERM' TERM
{timer}atomflow_run() {{
  "$@" &
  atomflow_child=$!
  local rc=0 again
  while :; do
    wait "$atomflow_child"; rc=$?
    kill -0 "$atomflow_child" 2>/dev/null || break
  done
  # a trap may have interrupted the last wait just as the task ended: ask again
  wait "$atomflow_child" 2>/dev/null; again=$?
  if [ "$again" -ne 127 ]; then rc=$again; fi
  if [ -n "$atomflow_timer" ]; then kill "$atomflow_timer" 2>/dev/null; fi
  if [ "$rc" -eq {EXIT_REQUEUE} ]; then
    echo "atomflow: task stopped at a restart point (exit {EXIT_REQUEUE}): requeue it" >&2
  fi
  return "$rc"
}}
# ------------------------------------------------------------------------------
"""
