"""Domain services: the functions pages, the CLI, the API and plugins share.

Orders, stock and money change only through these modules.
"""
