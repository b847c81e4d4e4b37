-- smsauth schema for SQLite. Times are INTEGER milliseconds since the Unix epoch (UTC): they
-- compare correctly as numbers, unlike text timestamps whose fractional digits vary.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    nickname            TEXT,
    username            TEXT UNIQUE,
    email               TEXT UNIQUE,
    phone               TEXT UNIQUE,
    password_hash       TEXT,
    password_changed_at INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE TABLE roles (
    name       TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

INSERT INTO roles (name, title, is_default, created_at, updated_at) VALUES
    ('root',   'Root',   0, strftime('%s', 'now') * 1000, strftime('%s', 'now') * 1000),
    ('admin',  'Admin',  0, strftime('%s', 'now') * 1000, strftime('%s', 'now') * 1000),
    ('member', 'Member', 1, strftime('%s', 'now') * 1000, strftime('%s', 'now') * 1000);

CREATE TABLE users_roles (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_name  TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, role_name)
);

CREATE TABLE authenticators (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    auth_type   TEXT NOT NULL,
    title       TEXT,
    description TEXT,
    enabled     INTEGER NOT NULL DEFAULT 0,
    sort        INTEGER NOT NULL DEFAULT 0,
    options     TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

INSERT INTO authenticators (name, auth_type, title, enabled, sort, options, created_at, updated_at)
VALUES ('basic', 'Email/Password', 'Password', 1, 1, '{"public":{"allowSignUp":false}}',
        strftime('%s', 'now') * 1000, strftime('%s', 'now') * 1000);

CREATE TABLE users_authenticators (
    authenticator TEXT NOT NULL REFERENCES authenticators (name) ON DELETE CASCADE ON UPDATE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    uuid          TEXT NOT NULL,
    meta          TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (authenticator, user_id),
    UNIQUE (authenticator, uuid)
);

CREATE TABLE verifiers (
    name              TEXT PRIMARY KEY,
    title             TEXT,
    description       TEXT,
    verification_type TEXT NOT NULL,
    is_default        INTEGER NOT NULL DEFAULT 0,
    options           TEXT NOT NULL DEFAULT '{}',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

-- At most one default verifier per type.
CREATE UNIQUE INDEX verifiers_one_default ON verifiers (verification_type) WHERE is_default = 1;

CREATE TABLE users_verifiers (
    verifier   TEXT NOT NULL REFERENCES verifiers (name) ON DELETE CASCADE ON UPDATE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    uuid       TEXT NOT NULL,
    meta       TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (verifier, user_id)
);

CREATE TABLE otp_records (
    id              TEXT PRIMARY KEY,
    action          TEXT NOT NULL,
    receiver        TEXT NOT NULL,
    verifier_name   TEXT NOT NULL,
    code_hash       BLOB NOT NULL,
    status          TEXT NOT NULL
        CHECK (status IN ('pending', 'sent', 'send_failed', 'used', 'exhausted', 'superseded')),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    expires_at      INTEGER NOT NULL,
    client_ip       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- One live code per (action, receiver), enforced by the database itself.
CREATE UNIQUE INDEX otp_records_one_live ON otp_records (action, receiver)
    WHERE status IN ('pending', 'sent');
CREATE INDEX otp_records_receiver_created ON otp_records (receiver, created_at);
CREATE INDEX otp_records_ip_created ON otp_records (client_ip, created_at);
CREATE INDEX otp_records_created ON otp_records (created_at);

CREATE TABLE phone_throttle (
    action               TEXT NOT NULL,
    receiver             TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    blocked_until        INTEGER,
    window_started_at    INTEGER NOT NULL,
    window_failures      INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (action, receiver)
);

CREATE TABLE issued_tokens (
    id            TEXT PRIMARY KEY,
    jti           TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    sign_in_at    INTEGER NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    authenticator TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX issued_tokens_jti ON issued_tokens (jti);
CREATE INDEX issued_tokens_user ON issued_tokens (user_id);

-- Which token replaced which, so that concurrent renewals of one token agree (SPEC §5.4).
CREATE TABLE token_renewals (
    old_jti    TEXT PRIMARY KEY,
    new_jti    TEXT NOT NULL,
    renewed_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE token_blacklist (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX token_blacklist_expires ON token_blacklist (expires_at);

CREATE TABLE token_policy (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    token_ttl   INTEGER NOT NULL,
    session_ttl INTEGER NOT NULL,
    renew_limit INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

INSERT INTO token_policy (id, token_ttl, session_ttl, renew_limit, created_at, updated_at)
VALUES (1, 86400, 604800, 86400, strftime('%s', 'now') * 1000, strftime('%s', 'now') * 1000);
