//! `smsauth backup <file>`: a consistent copy of the store taken while the server runs.

use std::path::Path;

use crate::configuration::Settings;

pub async fn run(settings: &Settings, dest: &Path) -> anyhow::Result<()> {
    let store = crate::backend::open(settings).await?;
    let result = store.backup(dest).await;
    store.close().await;
    result?;
    let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written to {} ({size} bytes, integrity check passed); keep the key files of {} with it",
        dest.display(),
        settings.data_dir.display()
    );
    Ok(())
}
