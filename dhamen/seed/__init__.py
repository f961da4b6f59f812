"""Demo and volume data (``flask --app app dhamen seed``)."""
