"""What the authority's and the collector's HTTP servers share: health, readiness, metrics,
logs, the one problem+json builder and its handlers, request ids, body limits, the uvicorn
settings that bound slow clients, and security headers. Nothing here knows about either
server's services."""
