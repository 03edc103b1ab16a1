"""The service layer: one transaction per user action, joining the workflow with storage."""
