"""Custom Rasa NLU components for FinAssist (loaded by the Rasa server, not the action server)."""
