"""Outbox delivery (in-app, email over SMTP, signed webhooks).

The engine already writes every message to the `outbox` table in the same transaction as the
change it reports (engine/workflow/journal.py). Delivering them is the notifications issue; until then
messages stay `pending` in the table.
"""
