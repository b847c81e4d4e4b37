//! Server keys kept in the data directory: the code-hash key and the token signing key. Each is
//! generated from the OS CSPRNG on first start and written with mode 0600.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// The shortest key accepted: 256 bits, the strength of the HMAC-SHA256 and Ed25519 keys
/// (NIST SP 800-107 §5.3.4: an HMAC key as long as the hash output).
pub const MIN_KEY_BYTES: usize = 32;

/// Reads `path`, or creates it with `generate()` when it does not exist. An existing key file
/// that others may read, or that is shorter than [`MIN_KEY_BYTES`], is refused with a message
/// saying how to fix it: starting with a weak or exposed key would be worse than not starting.
pub fn load_or_create(
    path: &Path,
    generate: impl FnOnce() -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Vec<u8>> {
    match fs::read(path) {
        Ok(bytes) => {
            check_private(path)?;
            anyhow::ensure!(
                bytes.len() >= MIN_KEY_BYTES,
                "key file {} holds {} bytes, fewer than the {MIN_KEY_BYTES} a key needs; \
                 delete it to generate a new key, or write a longer one",
                path.display(),
                bytes.len()
            );
            return Ok(bytes);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read key file {}", path.display()));
        }
    }
    let bytes = generate()?;
    match new_private_file().open(path) {
        Ok(mut f) => {
            f.write_all(&bytes)?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new key");
            Ok(bytes)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(fs::read(path)?),
        Err(e) => Err(e).with_context(|| format!("cannot write key file {}", path.display())),
    }
}

/// Whether the key file at `path` exists (`false`: it would be generated), refusing one that
/// could not be used, for the same reasons [`load_or_create`] would.
pub fn inspect(path: &Path) -> anyhow::Result<bool> {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot read key file {}", path.display())),
        Ok(meta) => {
            check_private(path)?;
            anyhow::ensure!(
                meta.len() >= MIN_KEY_BYTES as u64,
                "key file {} is shorter than {MIN_KEY_BYTES} bytes",
                path.display()
            );
            Ok(true)
        }
    }
}

/// Options that create a new file only its owner may read (mode 0600), never an existing one.
fn new_private_file() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Refuses a key file that anyone but its owner may read or write.
fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?
            .permissions()
            .mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "key file {} has mode {:o} and can be read by other users; run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

pub fn random_bytes(n: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf)
        .map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    Ok(buf)
}

pub fn ed25519_pkcs8() -> anyhow::Result<Vec<u8>> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("cannot generate an Ed25519 key"))?;
    Ok(doc.as_ref().to_vec())
}

/// The Ed25519 signing key in the data directory.
pub const ED25519_KEY_FILE: &str = "jwt-ed25519.pk8";

/// Public keys of earlier signing keys, written by `smsauth keys rotate`.
pub const RETIRED_KEYS_FILE: &str = "jwt-retired-keys.json";

/// The retired keys of `dir` still needed at `now` (unix seconds): those whose tokens may still
/// be valid or renewed. None is an empty list.
pub fn retired_keys(dir: &Path, now: i64) -> anyhow::Result<Vec<crate::jwt::RetiredKey>> {
    let path = dir.join(RETIRED_KEYS_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let all: Vec<crate::jwt::RetiredKey> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list of retired keys", path.display()))?;
    Ok(all.into_iter().filter(|k| k.keep_until > now).collect())
}

/// What [`rotate`] did.
pub struct Rotation {
    pub retired_kid: String,
    pub new_kid: String,
    pub keep_until: i64,
}

/// Replaces the Ed25519 signing key of `dir` by a new one and keeps the old public key until
/// `keep_until` (unix seconds), so tokens it signed stay valid until they expire. The retired
/// list is written before the key is replaced: a crash in between leaves the old key current
/// and merely listed twice.
pub fn rotate(dir: &Path, now: i64, keep_until: i64) -> anyhow::Result<Rotation> {
    use base64::Engine;
    let key_path = dir.join(ED25519_KEY_FILE);
    let current = load_or_create(&key_path, ed25519_pkcs8)?;
    let (public, retired_kid) = crate::jwt::ed25519_public(&current)?;
    let mut retired = retired_keys(dir, now)?;
    retired.retain(|k| k.kid != retired_kid);
    retired.push(crate::jwt::RetiredKey {
        kid: retired_kid.clone(),
        x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public),
        keep_until,
    });
    write_replacing(
        &dir.join(RETIRED_KEYS_FILE),
        serde_json::to_string_pretty(&retired)?.as_bytes(),
    )?;
    let fresh = ed25519_pkcs8()?;
    let (_, new_kid) = crate::jwt::ed25519_public(&fresh)?;
    write_replacing(&key_path, &fresh)?;
    Ok(Rotation {
        retired_kid,
        new_kid,
        keep_until,
    })
}

/// Writes `bytes` to `path` through a private temporary file and a rename, so a reader sees the
/// old file or the new one, never half of one.
fn write_replacing(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = new_private_file()
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
