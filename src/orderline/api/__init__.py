"""The HTTP application: the app factory, middleware, the error-code to status table, health and
metrics. It composes the capabilities' routers.
"""
