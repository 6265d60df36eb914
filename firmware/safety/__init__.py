"""safety layer of the hotpress daemon."""
