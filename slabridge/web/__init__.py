"""The web pages: the board, customer pages, statements and unclassified issues, read-only."""
