"""Notifications (SPEC section 10): what each event tells the humans, where it goes, and the
sender that delivers the ledger's outbox.

`notice.py` and `messages.py` say it; `sinks.py` routes it to the sinks that want it;
`payloads.py` shapes it for Slack, Teams or a generic webhook; `sender.py` makes one attempt;
`dispatcher.py` is the thread that sends, retries and gives up. Notifications are written to
the ledger with their cause (`store/outbox.py`), never sent from the probe or action threads.
"""
