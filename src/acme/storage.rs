//! The ACME directory on disk: the account credentials and the issued certificate with its
//! key, all written with 0600 permissions and reused across restarts.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// File names inside the storage directory.
const ACCOUNT_FILE: &str = "account.json";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";

/// The storage directory of one set of domains.
#[derive(Debug, Clone)]
pub(crate) struct Storage {
    dir: PathBuf,
}

impl Storage {
    /// The directory `root` (created 0700 when missing).
    pub(crate) fn open(root: &Path) -> anyhow::Result<Storage> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_context(|| format!("creating the ACME storage {}", root.display()))?;
        Ok(Storage {
            dir: root.to_path_buf(),
        })
    }

    /// The saved account credentials (JSON), if any.
    pub(crate) fn account(&self) -> anyhow::Result<Option<String>> {
        read_optional(&self.dir.join(ACCOUNT_FILE))
    }

    /// Saves the account credentials.
    pub(crate) fn save_account(&self, json: &str) -> anyhow::Result<()> {
        write_private(&self.dir.join(ACCOUNT_FILE), json)
    }

    /// The saved certificate chain and key (PEM), if both exist.
    pub(crate) fn certificate(&self) -> anyhow::Result<Option<(String, String)>> {
        let cert = read_optional(&self.dir.join(CERT_FILE))?;
        let key = read_optional(&self.dir.join(KEY_FILE))?;
        Ok(cert.zip(key))
    }

    /// Saves a certificate chain and its key: the key first, so a chain on disk always has
    /// its key.
    pub(crate) fn save_certificate(&self, chain: &str, key: &str) -> anyhow::Result<()> {
        write_private(&self.dir.join(KEY_FILE), key)?;
        write_private(&self.dir.join(CERT_FILE), chain)
    }
}

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes `contents` to a temporary 0600 file next to `path`, then renames it over `path`.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temporary.display()))?;
    fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::Storage;

    #[test]
    fn files_are_private_and_read_back() {
        let dir = tempfile::tempdir().expect("a directory");
        let storage = Storage::open(&dir.path().join("acme")).expect("opens");
        assert_eq!(storage.account().expect("reads"), None);
        storage.save_account("{}").expect("saves");
        storage.save_certificate("CHAIN", "KEY").expect("saves");
        assert_eq!(storage.account().expect("reads").as_deref(), Some("{}"));
        assert_eq!(
            storage.certificate().expect("reads"),
            Some(("CHAIN".to_owned(), "KEY".to_owned()))
        );
        for name in ["account.json", "cert.pem", "key.pem"] {
            let mode = std::fs::metadata(dir.path().join("acme").join(name))
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
}
