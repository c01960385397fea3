"""The audit log of a merchant's settings and credentials: who changed what, with which API
key, when, and the values before and after (secrets redacted, never stored). Each change is
recorded by ``service.record`` inside the change's own transaction, so a change that rolls
back leaves no entry and a committed one always has one. It sits just above ``core`` so every
capability that holds a setting (tenancy, cod, manual payments, webhooks) can record into it.
"""
