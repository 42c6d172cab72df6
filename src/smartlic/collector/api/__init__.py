"""The collector's HTTP faces: the product instance service (``pi.py``, port 8182) and its own
REST API (``rest.py``, port 8180)."""
