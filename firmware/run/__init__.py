"""run layer of the hotpress daemon."""
