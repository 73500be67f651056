"""The transactional outbox: side effects (mail, notices) written as rows in the caller's transaction."""
