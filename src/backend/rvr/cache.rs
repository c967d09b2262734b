//! The on-disk artifact cache of compiled libraries.
//!
//! An entry is three files in the cache directory, named by its [`CacheKey`]:
//! `<key>.so` (the library), `<key>.json` (its [`ArtifactMetadata`], with the SHA-256 of the
//! library's bytes) and `<key>.c` (the generated source, kept for debugging).
//!
//! The key is computed **before** code generation, from everything that determines the
//! generated library: the program, the configuration, the mode, the chip mapping, the rvx
//! version, the codegen version, the compiler's identity and flags, and the target. So a hit
//! costs neither code generation nor compilation, only hashing the library to verify it.
//!
//! Every file is written under a unique temporary name and renamed into place, and a library
//! is used only if its bytes hash to what its metadata records. So processes and threads
//! racing on one key never observe a half-written entry, and an entry that is truncated,
//! corrupted, mismatched or missing its metadata is rebuilt, never loaded. (Nothing is
//! `fsync`ed: an entry damaged by a crash fails verification and is rebuilt.)

use super::compiler::{CCompiler, CompileError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The version of the metadata format; entries of another format are rebuilt.
const FORMAT: u32 = 1;

/// A directory of compiled libraries; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCache {
    dir: PathBuf,
}

/// The name of a cache entry: the hex SHA-256 of everything that determines the library.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// Hashes `parts` with SHA-256, each prefixed by its length (so `["ab", "c"]` and
    /// `["a", "bc"]` give different keys). The caller chooses the parts, before generating any
    /// code: see the [module documentation](self).
    pub fn new(parts: &[&[u8]]) -> CacheKey {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        CacheKey(hex(&hasher.finalize()))
    }

    /// The key as 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A verified library, ready to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The library, `<dir>/<key>.so`.
    pub library: PathBuf,
    /// Whether it was found in the cache (no code generation, no compilation).
    pub cache_hit: bool,
    /// Time the C compiler ran (zero on a hit).
    pub compile_time: Duration,
    /// The SHA-256 (hex) of the library's bytes, to check again just before loading it
    /// ([`verify_library`]).
    pub sha256: String,
}

/// What `<key>.json` records about `<key>.so`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMetadata {
    /// The metadata format version.
    pub format: u32,
    /// The cache key (the entry's name).
    pub key: String,
    /// The SHA-256 (hex) of the library's bytes.
    pub library_sha256: String,
    /// The library's size in bytes.
    pub library_size: u64,
    /// The compiler's version line.
    pub compiler: String,
    /// The compiler's flags.
    pub flags: Vec<String>,
    /// When the entry was built (seconds since the Unix epoch).
    pub created_unix_secs: u64,
    /// The rvx version that built it.
    pub rvx_version: String,
}

impl ArtifactCache {
    /// A cache in `dir` (created when first needed).
    pub fn new(dir: impl Into<PathBuf>) -> ArtifactCache {
        ArtifactCache { dir: dir.into() }
    }

    /// The cache in `$RVX_CACHE_DIR`, else `$XDG_CACHE_HOME/rvx`, else `$HOME/.cache/rvx`,
    /// else `rvx-cache-<user>` in the system temporary directory.
    pub fn from_env() -> ArtifactCache {
        ArtifactCache::new(default_dir(&|name| std::env::var_os(name)))
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `key`'s library is (whether or not it exists).
    pub fn library_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{key}.so"))
    }

    /// Where `key`'s metadata is.
    pub fn metadata_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// Where `key`'s generated C source is kept.
    pub fn source_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{key}.c"))
    }

    /// The metadata of `key`'s entry if the entry is complete and its library's bytes match
    /// it; `Err` says why not.
    pub fn check(&self, key: &CacheKey) -> Result<ArtifactMetadata, String> {
        let path = self.metadata_path(key);
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta: ArtifactMetadata =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.format != FORMAT || meta.key != key.0 {
            return Err(format!(
                "{}: format {} for key {}",
                path.display(),
                meta.format,
                meta.key
            ));
        }
        let library = self.library_path(key);
        let size = fs::metadata(&library)
            .map_err(|e| format!("{}: {e}", library.display()))?
            .len();
        if size != meta.library_size {
            return Err(format!(
                "{}: {size} bytes, expected {}",
                library.display(),
                meta.library_size
            ));
        }
        let actual = sha256_file(&library).map_err(|e| e.to_string())?;
        if actual != meta.library_sha256 {
            return Err(format!(
                "{}: SHA-256 {actual}, expected {}",
                library.display(),
                meta.library_sha256
            ));
        }
        Ok(meta)
    }

    /// Whether `key` has a complete entry whose library matches its recorded hash.
    pub fn verify(&self, key: &CacheKey) -> bool {
        self.check(key).is_ok()
    }

    /// The library for `key`: from the cache if its entry verifies, else built now by
    /// compiling `generate()`'s C source with `compiler` and stored (replacing any damaged
    /// entry). `generate` is called only on a miss.
    pub fn get_or_build(
        &self,
        key: &CacheKey,
        compiler: &CCompiler,
        generate: impl FnOnce() -> String,
    ) -> Result<Artifact, CompileError> {
        let library = self.library_path(key);
        if let Ok(meta) = self.check(key) {
            return Ok(Artifact {
                library,
                cache_hit: true,
                compile_time: Duration::ZERO,
                sha256: meta.library_sha256,
            });
        }
        self.create_dir()?;
        let source = generate();
        let c_file = self.temp(key, "c")?;
        fs::write(c_file.path(), source)
            .map_err(|e| self.error(c_file.path(), "cannot write the C source", e))?;
        let so_file = self.temp(key, "so")?;
        let compile_time = match compiler.compile_shared(c_file.path(), so_file.path()) {
            Ok(time) => time,
            Err(CompileError::Failed {
                compiler,
                status,
                mut output,
            }) => {
                // Keep the source the diagnostics refer to.
                let kept = self.source_path(key);
                if c_file.persist(&kept).is_ok() {
                    output.push_str(&format!(
                        "\nnote: the generated C source is kept at {}",
                        kept.display()
                    ));
                }
                return Err(CompileError::Failed {
                    compiler,
                    status,
                    output,
                });
            }
            Err(e) => return Err(e),
        };
        let sha256 = sha256_file(so_file.path())?;
        let library_size = fs::metadata(so_file.path())
            .map_err(|e| self.error(so_file.path(), "cannot read the library's size", e))?
            .len();
        // Another process may have finished the same entry meanwhile: keep it (it verifies).
        if let Ok(meta) = self.check(key) {
            return Ok(Artifact {
                library,
                cache_hit: false,
                compile_time,
                sha256: meta.library_sha256,
            });
        }
        let meta = ArtifactMetadata {
            format: FORMAT,
            key: key.0.clone(),
            library_sha256: sha256.clone(),
            library_size,
            compiler: compiler.version.clone(),
            flags: compiler.flags(),
            created_unix_secs: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            rvx_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let json_file = self.temp(key, "json")?;
        let json = serde_json::to_vec_pretty(&meta).expect("metadata serialises");
        fs::write(json_file.path(), json)
            .map_err(|e| self.error(json_file.path(), "cannot write metadata", e))?;
        // Library first, then the metadata that vouches for it: a reader in between sees a
        // mismatch and rebuilds, never a library it has not verified.
        so_file
            .persist(&library)
            .map_err(|e| self.error(&library, "cannot store the library", e))?;
        let meta_path = self.metadata_path(key);
        json_file
            .persist(&meta_path)
            .map_err(|e| self.error(&meta_path, "cannot store metadata", e))?;
        let _ = c_file.persist(&self.source_path(key));
        Ok(Artifact {
            library,
            cache_hit: false,
            compile_time,
            sha256,
        })
    }

    fn create_dir(&self) -> Result<(), CompileError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&self.dir)
            .map_err(|e| self.error(&self.dir, "cannot create the cache directory", e))
    }

    fn temp(&self, key: &CacheKey, ext: &str) -> Result<TempFile, CompileError> {
        TempFile::create(&self.dir, key.as_str(), &format!("tmp.{ext}"))
            .map_err(|e| self.error(&self.dir, "cannot create a temporary file", e))
    }

    fn error(&self, path: &Path, what: &str, e: io::Error) -> CompileError {
        CompileError::Cache {
            path: path.display().to_string(),
            message: format!("{what}: {e}"),
        }
    }
}

/// The cache directory named by the environment `env` (see [`ArtifactCache::from_env`]).
fn default_dir(env: &dyn Fn(&str) -> Option<OsString>) -> PathBuf {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("RVX_CACHE_DIR") {
        return dir;
    }
    // The XDG specification ignores relative paths.
    if let Some(dir) = var("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
        return dir.join("rvx");
    }
    if let Some(home) = var("HOME") {
        return home.join(".cache").join("rvx");
    }
    let user = env("USER").or_else(|| env("LOGNAME")).unwrap_or_default();
    let user: String = user
        .to_string_lossy()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    std::env::temp_dir().join(if user.is_empty() {
        "rvx-cache".to_string()
    } else {
        format!("rvx-cache-{user}")
    })
}

/// The SHA-256 (lowercase hex) of the file at `path`.
pub fn sha256_file(path: &Path) -> Result<String, CompileError> {
    let io_error = |e: io::Error| CompileError::Io {
        path: path.display().to_string(),
        message: format!("cannot hash: {e}"),
    };
    let mut file = fs::File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Checks, right before loading, that `artifact`'s library still hashes to
/// `artifact.sha256` ([`CompileError::Corrupt`] if not).
///
/// A library that another process rebuilt for the same key in the meantime (the same entry,
/// replaced atomically) is also accepted once its own metadata vouches for it.
pub fn verify_library(artifact: &Artifact) -> Result<(), CompileError> {
    let mut actual = sha256_file(&artifact.library)?;
    for attempt in 0..3 {
        if actual == artifact.sha256 || vouched_by_metadata(&artifact.library, &actual) {
            return Ok(());
        }
        // A concurrent rebuild renames its metadata just after its library.
        if attempt < 2 {
            std::thread::sleep(Duration::from_millis(20));
            actual = sha256_file(&artifact.library)?;
        }
    }
    Err(CompileError::Corrupt {
        path: artifact.library.display().to_string(),
        expected: artifact.sha256.clone(),
        actual,
    })
}

/// Whether the metadata next to `library` records `sha256` for it.
fn vouched_by_metadata(library: &Path, sha256: &str) -> bool {
    let key = library
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    fs::read(library.with_extension("json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<ArtifactMetadata>(&bytes).ok())
        .is_some_and(|meta| {
            meta.format == FORMAT
                && Some(&meta.key) == key.as_ref()
                && meta.library_sha256 == sha256
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new file at a unique hidden path, `<dir>/.<stem>.<nonce>.<ext>`, removed when dropped
/// unless [`persist`](Self::persist)ed. The nonce mixes the process id, the thread, the time and
/// a random seed, and the file is created exclusively, so concurrent writers never share one.
#[derive(Debug)]
pub(super) struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// Creates the (empty) file.
    pub(super) fn create(dir: &Path, stem: &str, ext: &str) -> io::Result<TempFile> {
        let mut last = None;
        for attempt in 0u32..64 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            std::process::id().hash(&mut h);
            std::thread::current().id().hash(&mut h);
            SystemTime::now().hash(&mut h);
            attempt.hash(&mut h);
            let path = dir.join(format!(".{stem}.{:016x}.{ext}", h.finish()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(TempFile { path, keep: false }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    /// Where the file is.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to `target` (atomically when both are in one directory) and keeps it.
    pub(super) fn persist(mut self, target: &Path) -> io::Result<()> {
        fs::rename(&self.path, target)?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_length_prefixed_parts() {
        let ab_c = CacheKey::new(&[b"ab", b"c"]);
        assert_ne!(ab_c, CacheKey::new(&[b"a", b"bc"]));
        assert_ne!(ab_c, CacheKey::new(&[b"abc"]));
        assert_ne!(CacheKey::new(&[]), CacheKey::new(&[b""]));
        assert_eq!(ab_c, CacheKey::new(&[b"ab", b"c"]));
        assert_eq!(ab_c.as_str().len(), 64);
        assert!(ab_c
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(ab_c.to_string(), ab_c.as_str());
    }

    #[test]
    fn the_directory_follows_the_environment() {
        fn env_of<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
            move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        }
        let all = [
            ("RVX_CACHE_DIR", "/a"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
            ("USER", "me"),
        ];
        assert_eq!(default_dir(&env_of(&all)), Path::new("/a"));
        assert_eq!(default_dir(&env_of(&all[1..])), Path::new("/x/rvx"));
        let relative_xdg = [("XDG_CACHE_HOME", "rel"), ("HOME", "/h")];
        assert_eq!(
            default_dir(&env_of(&relative_xdg)),
            Path::new("/h/.cache/rvx")
        );
        let empty = [("RVX_CACHE_DIR", ""), ("HOME", "/h")];
        assert_eq!(default_dir(&env_of(&empty)), Path::new("/h/.cache/rvx"));
        assert_eq!(
            default_dir(&env_of(&all[3..])),
            std::env::temp_dir().join("rvx-cache-me")
        );
        assert_eq!(
            default_dir(&env_of(&[])),
            std::env::temp_dir().join("rvx-cache")
        );
    }
}
