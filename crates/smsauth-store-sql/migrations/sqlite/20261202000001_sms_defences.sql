-- SMS cost and abuse defences (SPEC §15).

-- Send limits, budgets and pumping windows as counters (SPEC §15.6): one row per key and time
-- bucket (its start, unix seconds), so a limit is checked by reading a few rows, not by
-- counting past records.
CREATE TABLE sms_counters (
    key    TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (key, bucket)
);
CREATE INDEX sms_counters_bucket ON sms_counters (bucket);

-- The SMS policy an administrator saved (SPEC §15.1); no row means the configured initial one.
CREATE TABLE sms_policy (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    policy     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Fixed codes for test numbers and prefixes (SPEC §15.4).
CREATE TABLE sms_test_numbers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    phone      TEXT NOT NULL UNIQUE,
    code       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    note       TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Prefixes and countries blocked by pumping detection (SPEC §15.2).
CREATE TABLE sms_blocks (
    kind          TEXT NOT NULL CHECK (kind IN ('prefix', 'country')),
    key           TEXT NOT NULL,
    blocked_until INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);

-- The audit log (SPEC §15.5). Phones are stored masked, with a keyed hash for exact search.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    time          INTEGER NOT NULL,
    type          TEXT NOT NULL,
    ip            TEXT,
    user_id       INTEGER,
    phone_masked  TEXT,
    phone_key     BLOB,
    authenticator TEXT,
    verifier      TEXT,
    detail        TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_type_time ON audit_log (type, time);
CREATE INDEX audit_log_user_time ON audit_log (user_id, time);
CREATE INDEX audit_log_phone_time ON audit_log (phone_key, time);

-- Delivery (SPEC §15.3): which verifier's provider took the SMS, its message id, and what the
-- provider's receipt said.
ALTER TABLE otp_records ADD COLUMN sent_via TEXT;
ALTER TABLE otp_records ADD COLUMN message_id TEXT;
ALTER TABLE otp_records ADD COLUMN delivery_status TEXT;
ALTER TABLE otp_records ADD COLUMN delivery_error TEXT;
CREATE INDEX otp_records_message ON otp_records (sent_via, message_id);

-- Limits no longer count records by address.
DROP INDEX otp_records_ip_created;
