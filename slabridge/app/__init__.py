"""Use cases: a sync cycle, the board, an explanation, the hour statements, doctor."""
