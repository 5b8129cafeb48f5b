"""The SMS channel over Twilio: signed webhooks in, acknowledgements out (docs/sms.md)."""

# The paths configured at Twilio, after ``sms.public_base_url``.
INBOUND_PATH = "/sms/twilio"
STATUS_PATH = "/sms/twilio/status"
