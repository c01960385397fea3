"""Staff of the merchant console: people of a business (email and argon2id password), their
roles (owner, admin, operations, verifier, viewer: each a set of the API scopes, so one rule
decides for a key and a person), invitations by single-use link, console sessions (server-side
rows, idle and absolute timeouts, CSRF token), login defences (one answer for every failure,
lockouts per email and address, an optional TOTP second factor), and the ``/v1/staff`` API.
See ``service`` for the use cases the console's pages call, and docs/guides/staff.md.
"""
