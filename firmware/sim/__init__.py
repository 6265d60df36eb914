"""sim layer of the hotpress daemon."""
