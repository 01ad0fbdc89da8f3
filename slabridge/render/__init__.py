"""Output for people: statements (HTML, Textile) and explanations."""
