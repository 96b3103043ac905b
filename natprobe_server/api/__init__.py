"""The HTTP API: the app, its guards, routes, connection limits, OpenAPI document and metrics."""
