"""Custom Rasa NLU components for FinAssist (loaded by the Rasa server only)."""
