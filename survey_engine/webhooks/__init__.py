"""Webhooks: a survey's events sent to the receivers its staff configured.

    persist.py (the drain's transaction) ──► outbox.py  one webhook_deliveries row per
    catalog.set_status, publish,            endpoint and event, in the SAME transaction
    results/review.py                       as what it reports
                                                │
    `survey-engine worker` (sender thread) ──► sending.py  claims due rows, signs
                                                (signing.py) and POSTs them, records each
                                                attempt; retries with backoff, then "failed"

The drain never waits for a receiver: it only writes rows. Delivery is at least once;
a repeat carries the same event id. endpoints.py: the staff's endpoints and their
secrets; addresses.py: which URLs and addresses a webhook may reach (SSRF).
"""
