"""``bridge worker``: the processes that drain the queue (RQ mode).

One supervisor per ``bridge worker`` and, under it, processes that never fork:

* ``dispatcher`` — moves accepted events from the store to RQ in batches, runs RQ's scheduler
  (retries due later), sweeps for work Redis lost, purges expired data;
* ``jobs-<n>`` — RQ workers that run jobs in their own process (no work horse per job), draining
  the urgent queue before the routine one.

The supervisor holds no threads, no database and no Redis connection: a fork from it hands a
child no lock anybody else holds. It kills a job process whose job runs past its deadline (from
the outside, so a job stuck in C code dies too), restarts children that exit, turns SIGTERM into a
warm shutdown (jobs finish) and a second SIGTERM into a cold one, and its children die with it
(``PR_SET_PDEATHSIG``), so a killed ``bridge worker`` leaves no orphan behind.
"""
