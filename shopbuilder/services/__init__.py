"""Domain services: the functions that pages, the CLI and the API share."""
