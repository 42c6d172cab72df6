"""What the authority's and the collector's HTTP servers share: health, readiness, metrics,
logs, the one problem+json builder and its handlers, request ids, body limits and the uvicorn
settings that bound slow clients. Nothing here knows about either server's services."""
