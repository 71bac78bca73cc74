"""The worker process entry point (`survey-engine worker`, workers/main.py): the drain
loop of survey_engine.intake.drain in a thread, and an RQ worker for survey_engine.jobs.
The work itself lives in the services; nothing imports this package but the CLI."""
