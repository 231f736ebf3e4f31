"""Widgets of the main window and its dialogs: they show what they are given, and signal."""
