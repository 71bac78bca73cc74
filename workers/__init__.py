"""Background work: jobs that run in a worker process, or in-process in inline mode."""
