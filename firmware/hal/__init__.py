"""hal layer of the hotpress daemon."""
