"""What the authority's and the collector's HTTP servers share: health, readiness, metrics,
security headers."""
