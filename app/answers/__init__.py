"""What comes back from a phone: ack links, SMS replies, a paging call's key presses, receipts."""
