"""Customer-profile database: models, sessions and the repository the actions use."""
