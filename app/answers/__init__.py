"""What comes back from a phone: one-time acknowledgement links, SMS replies, the paging call's
script and key presses, and the provider's delivery receipts."""
