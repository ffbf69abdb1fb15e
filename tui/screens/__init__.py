"""Screens of the kiosk: unlock, main desk, and the exit confirmation."""
