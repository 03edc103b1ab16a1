"""Channel adapters: platform updates in, core replies out (Telegram now, WhatsApp later)."""
