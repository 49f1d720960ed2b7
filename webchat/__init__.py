"""The customers' web chat page (see webchat/app.py)."""
