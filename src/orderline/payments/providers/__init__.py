"""The payment provider interface and its adapters: the sandbox and Stripe, with webhook signing."""
