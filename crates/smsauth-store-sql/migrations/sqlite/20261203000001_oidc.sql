-- The OpenID Provider (SPEC §16).

-- A session may be started from another: the grants an OIDC client holds come from the
-- provider's browser session they were authorised in, and end with it (logout, sign-out). The
-- foreign key also refuses a grant whose browser session has already ended: a code issued
-- before a revocation or a password change then gives nothing.
ALTER TABLE issued_tokens ADD COLUMN parent_id TEXT REFERENCES issued_tokens (id) ON DELETE CASCADE;
CREATE INDEX issued_tokens_parent ON issued_tokens (parent_id);

-- Registered applications. `secret_hash` is a keyed hash (never the secret); public clients
-- have none. URI lists are JSON arrays of exact strings.
CREATE TABLE oidc_clients (
    client_id                 TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    public                    INTEGER NOT NULL,
    first_party               INTEGER NOT NULL,
    id_token_alg              TEXT NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);

-- The scopes a user allowed a client, so the consent page is shown once.
CREATE TABLE oidc_consents (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Authorization codes, by keyed hash. A code is consumed by one guarded UPDATE; a second
-- presentation marks it replayed and ends the grant it produced (RFC 6749 §4.1.2).
CREATE TABLE oidc_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      INTEGER NOT NULL,
    amr            TEXT NOT NULL,
    sid            TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    consumed_at    INTEGER,
    grant_id       TEXT,
    replayed_at    INTEGER
);
CREATE INDEX oidc_codes_expires ON oidc_codes (expires_at);
