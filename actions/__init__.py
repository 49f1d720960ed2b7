"""FinAssist custom actions: capability modules plus thin Rasa action classes.

rasa-sdk imports every submodule of this package when the action server starts, so
nothing here does I/O or heavy work at import time.
"""
