//! The seeding statements, one per dialect where the two differ (series, formatting, casts).
//! The phone expression must build exactly what [`crate::phones::phone`] builds.

/// $1..$2 (exclusive): phone indices; $3: created_at.
pub const SQLITE_USERS: &str = "
    INSERT INTO users (nickname, phone, created_at, updated_at)
    WITH RECURSIVE seq(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < $2)
    SELECT p, p, $3, $3 FROM (
        SELECT '+316' || substr('123458', i / 10000000 + 1, 1) || printf('%07d', i % 10000000) AS p
        FROM seq)";

pub const PG_USERS: &str = "
    INSERT INTO users (nickname, phone, created_at, updated_at)
    SELECT p, p, $3::bigint, $3::bigint FROM (
        SELECT '+316' || substr('123458', (i / 10000000)::int + 1, 1)
               || lpad((i % 10000000)::text, 7, '0') AS p
        FROM generate_series($1::bigint, $2::bigint - 1) AS g(i)) s";

/// $1: the largest user id before the batch; $2: the role; $3: created_at.
pub const SQLITE_ROLES: &str = "
    INSERT INTO users_roles (user_id, role_name, created_at, updated_at)
    SELECT id, $2, $3, $3 FROM users WHERE id > $1";

pub const PG_ROLES: &str = "
    INSERT INTO users_roles (user_id, role_name, created_at, updated_at)
    SELECT id, $2::text, $3::bigint, $3::bigint FROM users WHERE id > $1";

/// $1: authenticator; $2: created_at; $3..$4: user id range (exclusive below, inclusive
/// above).
pub const SQLITE_LINKS: &str = "
    INSERT INTO users_authenticators (authenticator, user_id, uuid, meta, created_at, updated_at)
    SELECT $1, id, phone, NULL, $2, $2 FROM users
    WHERE phone IS NOT NULL AND id > $3 AND id <= $4
    ON CONFLICT DO NOTHING";

pub const PG_LINKS: &str = "
    INSERT INTO users_authenticators (authenticator, user_id, uuid, meta, created_at, updated_at)
    SELECT $1::text, id, phone, NULL, $2::bigint, $2::bigint FROM users
    WHERE phone IS NOT NULL AND id > $3 AND id <= $4
    ON CONFLICT DO NOTHING";

/// $1..$2: record indices; $3: id tag (8 hex digits); $4: receivers; $5: verifier;
/// $6: first created_at; $7: time span; $8: total records. Statuses are never live
/// (`pending`/`sent`), which the one-live-code index allows once per (action, receiver).
pub const SQLITE_CODES: &str = "
    INSERT INTO otp_records (id, action, receiver, verifier_name, code_hash, status,
        failed_attempts, expires_at, client_ip, created_at, updated_at)
    WITH RECURSIVE seq(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < $2)
    SELECT $3 || printf('-0000-4000-8000-%012x', i), 'auth:signIn',
           '+316' || substr('123458', (i % $4) / 10000000 + 1, 1)
                  || printf('%07d', (i % $4) % 10000000),
           $5, randomblob(32),
           CASE i % 10 WHEN 0 THEN 'exhausted' WHEN 1 THEN 'send_failed'
                       WHEN 2 THEN 'superseded' ELSE 'used' END,
           CASE i % 10 WHEN 0 THEN 5 ELSE 0 END,
           c + 120000,
           '10.' || ((i / 65536) % 256) || '.' || ((i / 256) % 256) || '.' || (i % 256),
           c, c + 1000
    FROM (SELECT i, $6 + (i * $7) / $8 AS c FROM seq)";

pub const PG_CODES: &str = "
    INSERT INTO otp_records (id, action, receiver, verifier_name, code_hash, status,
        failed_attempts, expires_at, client_ip, created_at, updated_at)
    SELECT $3::text || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'), 'auth:signIn',
           '+316' || substr('123458', ((i % $4::bigint) / 10000000)::int + 1, 1)
                  || lpad(((i % $4::bigint) % 10000000)::text, 7, '0'),
           $5::text, sha256(int8send(i)),
           CASE i % 10 WHEN 0 THEN 'exhausted' WHEN 1 THEN 'send_failed'
                       WHEN 2 THEN 'superseded' ELSE 'used' END,
           CASE i % 10 WHEN 0 THEN 5 ELSE 0 END,
           c + 120000,
           '10.' || ((i / 65536) % 256)::text || '.' || ((i / 256) % 256)::text
                 || '.' || (i % 256)::text,
           c, c + 1000
    FROM (SELECT i, $6::bigint + (i * $7::bigint) / $8::bigint AS c
          FROM generate_series($1::bigint, $2::bigint - 1) AS g(i)) s";
