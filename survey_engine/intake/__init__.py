"""The submission path, from a citizen's POST to the tallies, top to bottom.

    public/routes.py (form)   api/routes.py (JSON)
              └──────┬──────────────┘
              submit.py      open? answers checked against the version; one protocol
                 │           and one set of outcomes for the page and the API
              accept.py      hand over; ACCEPTED only once the submission is held
           ┌─────┴───────────────────────────┐
      REDIS_URL set                     no REDIS_URL, or Redis failing
      buffer.py  Lua accept script:          │
        duplicate/conflict by id,            │
        XADD to se:{survey}:stream           │
           │                                 │
      drain.py (in `survey-engine worker`)   │
        XREADGROUP a batch ──────────────────┤
                                        persist.py  one transaction: insert the
                                             │      responses (a repeated
                                             │      submission_id is skipped) and
                                        tallies.py  add them to the tallies
      (drain: XACK + XDEL only after the commit)

submission.py holds the checked Submission and the outcomes; counters.py the
counts /metrics and /healthz show. Nothing here imports the web or the workers.
"""
