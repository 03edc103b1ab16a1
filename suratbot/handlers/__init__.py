"""Channel-agnostic chat handlers (inbound event in, replies out): the Telegram and WhatsApp issues."""
