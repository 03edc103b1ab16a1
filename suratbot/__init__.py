"""suratbot: a Telegram and WhatsApp bot that runs an office's outgoing letters (surat keluar) by its SOP."""
