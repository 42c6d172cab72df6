"""Wire and file formats: parse and emit, pure (no web or database code)."""
