"""Cash on delivery: the policy, abuse controls, one-time codes, and collection."""
