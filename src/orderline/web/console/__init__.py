"""The merchant console (``/console``): server-rendered pages for staff, on the same use cases
as the API. ``access.py`` decides who is asking (the session cookie) and checks CSRF tokens;
``pages.py`` renders a console page; ``routes.py`` gathers every area's routes."""
