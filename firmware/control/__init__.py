"""control layer of the hotpress daemon."""
