-- The session a renewal belongs to, so that a renewed token presented after its grace window
-- can end that session (SPEC §5.5), and a signed-out session voids the tokens renewed from it.
ALTER TABLE token_renewals ADD COLUMN session_id TEXT;

-- One row that `/readyz` rewrites: readiness is a real write, so a full disk or a read-only
-- database shows as not ready (SPEC §9).
CREATE TABLE readiness_probe (
    id         INTEGER PRIMARY KEY,
    writes     BIGINT NOT NULL
);
