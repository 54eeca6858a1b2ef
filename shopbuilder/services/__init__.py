"""Domain services: the only code that changes orders, stock and money."""
