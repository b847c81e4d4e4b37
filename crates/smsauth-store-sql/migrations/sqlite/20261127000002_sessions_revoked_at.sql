-- Tokens issued before this instant are refused: set when an administrator revokes a user's
-- sessions.
ALTER TABLE users ADD COLUMN sessions_revoked_at INTEGER;
