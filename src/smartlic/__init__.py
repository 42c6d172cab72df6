"""smartlic: an open-source, self-hosted smart licensing platform."""

__version__ = "0.1.0"
