"""Messages to buyers and merchants: their texts, the notifier adapters (log, SMTP) and their
records.
"""
