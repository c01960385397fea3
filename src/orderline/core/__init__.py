"""What every capability shares: settings, the database engine and migrations, the runtime, the
root of the error tree, money, the clock, metrics and logging. It imports no capability.
"""
