"""Widgets of the kiosk's main screen."""
