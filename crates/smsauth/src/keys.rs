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
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
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
