"""Custom Rasa components for FinAssist (loaded by the Rasa server only).

Rasa imports this package at start-up, for the tracker store configured in
endpoints.yml, before any customer message arrives; importing it installs FinAssist's
changes to Rasa itself, all listed in `addons.patches`.
"""

from addons.patches import install_all as _install_all

_install_all()
