"""Batch schedulers: site profiles, job-script templates, submit/poll/cancel.

- :mod:`atomflow.hpc.profiles`: ``SiteProfile``, ``load_profile``, ``list_profiles``;
- :mod:`atomflow.hpc.render`: ``JobRequest``, ``render``, ``write_script``;
- :mod:`atomflow.hpc.schedulers`: ``get_scheduler`` and one module per scheduler;
- :mod:`atomflow.hpc.walltime`: the warning-signal trap and ``EXIT_REQUEUE``.

Nothing is imported here so that ``atomflow.hpc.workflow_jobs`` stays cheap to import.
"""
