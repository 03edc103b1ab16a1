"""The SOP core: the SOP as data, the letter state machine and the office-hours clock (pure, no I/O)."""
