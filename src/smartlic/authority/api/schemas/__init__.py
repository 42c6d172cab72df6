"""Request and response bodies of the management API: ``XCreate`` / ``XUpdate`` / ``XPublic``
per resource. ``XPublic`` models read the service DTOs directly (``from_attributes``)."""
