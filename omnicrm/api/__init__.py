"""The HTTP surface: REST API v1, webhooks, web chat, health and metrics."""
