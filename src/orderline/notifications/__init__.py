"""Messages to buyers and merchants: their texts, the notifier adapters (log, SMTP), each
business's SMS and WhatsApp sender (Twilio, the WhatsApp Cloud API) with its delivery reports,
and their records.
"""
