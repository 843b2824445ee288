"""Writing promotions and rollbacks to Git (GitOps)."""
