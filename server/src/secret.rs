//! The instance's master key: `KILN_SECRET_KEY`, else `$KILN_DATA_DIR/secret.key`, generated
//! once (32 random bytes, mode 0600) and read on every later start.

use anyhow::{Context, bail};
use kiln_auth::MasterKey;
use std::io::Write;
use std::path::Path;

pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<MasterKey> {
    if let Some(k) = configured {
        return MasterKey::new(k.as_bytes().to_vec())
            .map_err(|e| anyhow::anyhow!("KILN_SECRET_KEY: {e}"));
    }
    let path = data_dir.join("secret.key");
    match read(&path) {
        Ok(Some(k)) => return Ok(k),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    let key = MasterKey::generate();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(key.bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new secret key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read(&path)?.context("secret.key appeared but is empty")
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

fn read(path: &Path) -> anyhow::Result<Option<MasterKey>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => {
            if bytes.len() < 32 {
                bail!(
                    "{} is shorter than 32 bytes; delete it to generate a new key (this ends every session)",
                    path.display()
                );
            }
            Ok(Some(MasterKey::new(bytes).map_err(anyhow::Error::msg)?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_with_private_permissions() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = load_or_create(None, dir.path()).expect("create");
        let b = load_or_create(None, dir.path()).expect("read back");
        assert_eq!(a.bytes(), b.bytes());
        assert_eq!(a.bytes().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let c = load_or_create(Some("x".repeat(40).as_str()), dir.path()).expect("configured");
        assert_ne!(c.bytes(), a.bytes());
        assert!(load_or_create(Some("short"), dir.path()).is_err());
    }
}
