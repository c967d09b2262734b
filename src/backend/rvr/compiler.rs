//! The C compiler driver: finds a C compiler on this machine ([`find_compiler`]) and compiles
//! one generated C file into a shared library ([`CCompiler::compile_shared`]).
//!
//! The driver keeps no global state: a [`CCompiler`] is a plain value, and any number of
//! threads or processes may compile at the same time. A compilation writes its library under a
//! unique temporary name in the output's directory and renames it into place only when the
//! compiler succeeded, so `output` is either absent, the previous file, or a complete library.

use super::cache::TempFile;
use super::lift::CStyle;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Compiler diagnostics kept in [`CompileError::Failed`] (bytes; the rest is cut off).
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024;

/// Versioned clang names searched on `PATH`, newest first: `clang-40` down to `clang-14`.
const CLANG_VERSIONS: std::ops::RangeInclusive<u32> = 14..=40;

/// Why a compiling backend could not compile or load a program.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// No usable C compiler was found; `tried` names every candidate and why it was rejected.
    #[error(
        "no usable C compiler found (tried: {}); install clang or gcc, or set RVX_CC",
        .tried.join("; ")
    )]
    NoCompiler {
        /// Each candidate looked at, with the reason it was not used.
        tried: Vec<String>,
    },
    /// The C compiler ran and reported failure (or wrote no library).
    #[error("C compiler {compiler} failed ({}):\n{output}", exit_text(.status))]
    Failed {
        /// The compiler (path and version line).
        compiler: String,
        /// Its exit code; `None` if it was killed by a signal.
        status: Option<i32>,
        /// What it printed (stderr, then stdout), truncated to [`MAX_OUTPUT_BYTES`].
        output: String,
    },
    /// A file could not be read or written, or a program could not be started.
    #[error("{path}: {message}")]
    Io {
        /// The file or program concerned.
        path: String,
        /// The operating system's message, with what was being done.
        message: String,
    },
    /// The artifact cache (its directory or an entry in it) could not be used.
    #[error("artifact cache {path}: {message}")]
    Cache {
        /// The cache directory or entry concerned.
        path: String,
        /// What failed.
        message: String,
    },
    /// A compiled library's bytes do not match the SHA-256 recorded when it was built.
    #[error("library {path} is corrupt: its SHA-256 is {actual}, expected {expected}")]
    Corrupt {
        /// The library.
        path: String,
        /// The recorded SHA-256 (hex).
        expected: String,
        /// The SHA-256 of the bytes on disk (hex).
        actual: String,
    },
    /// The JIT could not emit code (no emitter for this host, or no executable memory).
    #[error("jit: {message}")]
    Jit {
        /// What failed.
        message: String,
    },
    /// A compiled library could not be loaded or lacks a symbol it must export.
    #[error("cannot load {path}: {message}")]
    Load {
        /// The library.
        path: String,
        /// The loader's message.
        message: String,
    },
}

fn exit_text(status: &Option<i32>) -> String {
    match status {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    }
}

/// The family of a C compiler, which decides the flags it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompilerKind {
    /// clang (any vendor build).
    Clang,
    /// GCC.
    Gcc,
    /// Something else that answers `--version`; given only the portable flags.
    Other,
}

/// Which C compiler [`find_compiler`] looks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum CompilerPreference {
    /// `RVX_CC`, else `CC` (if set and non-empty: that one or an error), else the newest clang
    /// on `PATH` if it is clang 19 or newer, else gcc (`gcc`, then `cc`), else an older clang,
    /// else the `cc` crate's default compiler.
    #[default]
    Auto,
    /// The newest clang on `PATH` (`clang` or `clang-N`, N = 40 down to 14).
    Clang,
    /// GCC on `PATH` (`gcc`, then `cc` if it is GCC).
    Gcc,
    /// This program (a path, or a name looked up on `PATH`), whatever its family.
    Path(PathBuf),
}

impl FromStr for CompilerPreference {
    type Err = std::convert::Infallible;

    /// `auto`, `clang`, `gcc`, or anything else as a compiler path or name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => CompilerPreference::Auto,
            "clang" => CompilerPreference::Clang,
            "gcc" => CompilerPreference::Gcc,
            other => CompilerPreference::Path(PathBuf::from(other)),
        })
    }
}

/// A C compiler found on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CCompiler {
    /// The program that is run (as found on `PATH` or given).
    pub path: PathBuf,
    /// Its family.
    pub kind: CompilerKind,
    /// The first line of its `--version` output.
    pub version: String,
    /// Its whole `--version` output: part of cache keys, so that another compiler or version
    /// never serves a library built by this one.
    pub identity: String,
}

impl fmt::Display for CCompiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.version)
    }
}

/// Finds a C compiler as `preference` says. A compiler that is missing or does not answer
/// `--version` is never an error by itself: the next candidate is tried, and only when none is
/// left is the result [`CompileError::NoCompiler`], naming every candidate.
pub fn find_compiler(preference: CompilerPreference) -> Result<CCompiler, CompileError> {
    find_compiler_with_env(&preference, &|name| std::env::var_os(name))
}

/// [`find_compiler`] in the environment `env` (which answers for `PATH`, `RVX_CC` and `CC`)
/// instead of the process's.
pub fn find_compiler_with_env(
    preference: &CompilerPreference,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<CCompiler, CompileError> {
    let path_var = env("PATH");
    let path_var = path_var.as_deref();
    let mut tried = Vec::new();
    let found = match preference {
        CompilerPreference::Path(path) => candidate(path.as_os_str(), None, path_var, &mut tried),
        CompilerPreference::Clang => find_clang(path_var, &mut tried),
        CompilerPreference::Gcc => find_gcc(path_var, &mut tried),
        CompilerPreference::Auto => {
            // An explicit choice is used or reported, never silently replaced by another.
            if let Some((var, value)) = ["RVX_CC", "CC"]
                .into_iter()
                .find_map(|var| env(var).filter(|v| !v.is_empty()).map(|v| (var, v)))
            {
                return probe_named(&value, path_var).map_err(|why| CompileError::NoCompiler {
                    tried: vec![format!("{var}={}: {why}", value.to_string_lossy())],
                });
            }
            // A clang that guarantees tail calls in `preserve_none` first: it gets one small
            // function per block (the fastest code). Otherwise gcc, which optimises the
            // one-function shape far better than clang does (about 2x faster guest code).
            let clang = find_clang(path_var, &mut tried);
            if clang
                .as_ref()
                .is_some_and(|c| matches!(c.style(), CStyle::TailCalls { .. }))
            {
                return Ok(clang.expect("checked above"));
            }
            find_gcc(path_var, &mut tried)
                .or(clang)
                .or_else(|| cc_crate_default(path_var, &mut tried))
        }
    };
    found.ok_or(CompileError::NoCompiler { tried })
}

/// `name` (on `PATH`) if it answers `--version` as a compiler of `kind` (any if `None`);
/// otherwise notes in `tried` why not.
fn candidate(
    name: &OsStr,
    kind: Option<CompilerKind>,
    path_var: Option<&OsStr>,
    tried: &mut Vec<String>,
) -> Option<CCompiler> {
    let shown = name.to_string_lossy();
    match probe_named(name, path_var) {
        Ok(c) if kind.is_none_or(|k| k == c.kind) => return Some(c),
        Ok(c) => tried.push(format!("{shown}: `{}` is not {kind:?}", c.version)),
        Err(why) => tried.push(format!("{shown}: {why}")),
    }
    None
}

/// The newest clang on `PATH`: unversioned `clang` or `clang-N`. Starting clang costs tens of
/// milliseconds, so `clang`'s version is read from where it links to when that says
/// (`/usr/lib/llvm-14/bin/clang`, `clang-14`), and only the chosen compiler is run.
fn find_clang(path_var: Option<&OsStr>, tried: &mut Vec<String>) -> Option<CCompiler> {
    let (clang, name) = (Some(CompilerKind::Clang), OsStr::new("clang"));
    let hint = which(name, path_var).and_then(|path| version_hint(&path));
    let plain = match hint {
        Some(_) => None,
        None => candidate(name, clang, path_var, tried),
    };
    let plain_major = hint
        .or_else(|| plain.as_ref()?.major_version())
        .unwrap_or(0);
    let newer = (CLANG_VERSIONS.rev().take_while(|&n| n > plain_major))
        .map(|n| OsString::from(format!("clang-{n}")))
        .filter(|name| which(name, path_var).is_some())
        .find_map(|name| candidate(&name, clang, path_var, tried));
    let found = newer
        .or(plain)
        .or_else(|| hint.and_then(|_| candidate(name, clang, path_var, tried)));
    if found.is_none() {
        let (lo, hi) = (CLANG_VERSIONS.start(), CLANG_VERSIONS.end());
        tried.push(format!("clang-{hi}..clang-{lo}: none usable on PATH"));
    }
    found
}

/// The major version a clang's real path names: `…/llvm-14/bin/clang` or `…/clang-19`.
fn version_hint(path: &Path) -> Option<u32> {
    let real = fs::canonicalize(path).ok()?;
    let named = |part: &OsStr, prefix: &str| part.to_str()?.strip_prefix(prefix)?.parse().ok();
    let file = real.file_name().and_then(|f| named(f, "clang-"));
    file.or_else(|| real.iter().find_map(|part| named(part, "llvm-")))
}

/// GCC on `PATH` as `gcc`, or as `cc` if that is GCC.
fn find_gcc(path_var: Option<&OsStr>, tried: &mut Vec<String>) -> Option<CCompiler> {
    ["gcc", "cc"]
        .into_iter()
        .find_map(|name| candidate(OsStr::new(name), Some(CompilerKind::Gcc), path_var, tried))
}

/// The compiler the `cc` crate picks for the host (it honours `CC_<target>`, `TARGET_CC` and
/// the platform's default), whatever its family.
fn cc_crate_default(path_var: Option<&OsStr>, tried: &mut Vec<String>) -> Option<CCompiler> {
    let (arch, os) = (std::env::consts::ARCH, std::env::consts::OS);
    let triple = match os {
        "linux" if cfg!(target_env = "musl") => format!("{arch}-unknown-linux-musl"),
        "linux" => format!("{arch}-unknown-linux-gnu"),
        "macos" => format!("{arch}-apple-darwin"),
        _ => format!("{arch}-unknown-{os}"),
    };
    let mut build = cc::Build::new();
    build
        .opt_level(2)
        .debug(false)
        .host(&triple)
        .target(&triple);
    build
        .cargo_metadata(false)
        .cargo_warnings(false)
        .cargo_output(false);
    match build.emit_rerun_if_env_changed(false).try_get_compiler() {
        Ok(tool) => candidate(tool.path().as_os_str(), None, path_var, tried),
        Err(e) => {
            tried.push(format!("cc crate ({triple}): {e}"));
            None
        }
    }
}

/// Resolves `name` (a path, or a bare name on `PATH`) and probes it; `Err` says why not.
fn probe_named(name: &OsStr, path_var: Option<&OsStr>) -> Result<CCompiler, String> {
    let path = which(name, path_var).ok_or_else(|| {
        if Path::new(name).components().count() > 1 {
            "no such executable".to_string()
        } else {
            "not on PATH".to_string()
        }
    })?;
    CCompiler::probe(&path).map_err(|e| match e {
        CompileError::Io { message, .. } => message,
        other => other.to_string(),
    })
}

/// `name` itself if it has a directory part, else the first executable `dir/name` for the
/// directories of `path_var` (empty entries, meaning the current directory, are skipped).
fn which(name: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let name = Path::new(name);
    if name.as_os_str().is_empty() {
        return None;
    }
    if name.components().count() > 1 {
        return is_executable(name).then(|| name.to_path_buf());
    }
    std::env::split_paths(path_var?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;
    #[cfg(unix)]
    let runnable = |m: &fs::Metadata| m.permissions().mode() & 0o111 != 0;
    #[cfg(not(unix))]
    let runnable = |_: &fs::Metadata| true;
    fs::metadata(path).is_ok_and(|m| m.is_file() && runnable(&m))
}

/// The family named by a `--version` output.
fn classify(version_output: &str) -> CompilerKind {
    let text = version_output.to_ascii_lowercase();
    let first = text.lines().next().unwrap_or("");
    if first.contains("clang") {
        CompilerKind::Clang
    } else if text.contains("free software foundation") || first.contains("gcc") {
        CompilerKind::Gcc
    } else {
        CompilerKind::Other
    }
}

impl CCompiler {
    /// Describes the compiler at `path` by running `path --version`. Fails with
    /// [`CompileError::Io`] if it cannot be run, exits unsuccessfully or prints nothing.
    pub fn probe(path: &Path) -> Result<CCompiler, CompileError> {
        let io_error = |message: String| CompileError::Io {
            path: path.display().to_string(),
            message,
        };
        let out = Command::new(path)
            .arg("--version")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io_error(format!("cannot run `--version`: {e}")))?;
        if !out.status.success() {
            return Err(io_error(format!("`--version` failed ({})", out.status)));
        }
        let mut text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if text.is_empty() {
            text = String::from_utf8_lossy(&out.stderr).trim().to_string();
        }
        let version = text.lines().next().unwrap_or("").trim().to_string();
        if version.is_empty() {
            return Err(io_error("`--version` printed nothing".to_string()));
        }
        Ok(CCompiler {
            path: path.to_path_buf(),
            kind: classify(&text),
            version,
            identity: text,
        })
    }

    /// The major version number in [`version`](Self::version) (the first number with a dot:
    /// `19` for "Debian clang version 19.1.7", `12` for "gcc (Debian 12.2.0-14) 12.2.0").
    pub fn major_version(&self) -> Option<u32> {
        self.version
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .filter(|word| word.starts_with(|c: char| c.is_ascii_digit()) && word.contains('.'))
            .find_map(|word| word.split('.').next()?.parse().ok())
    }

    /// The shape of C this compiler gets: one function per block with guaranteed tail calls
    /// where it supports them (clang 19 and newer, whose `preserve_none` convention passes
    /// 12 integer arguments in registers on x86-64 and 23 on aarch64), else one function.
    pub fn style(&self) -> CStyle {
        self.style_for_arch(std::env::consts::ARCH)
    }

    /// [`style`](Self::style) for code that runs on `arch` (a Rust `target_arch` name), which
    /// need not be this host's (build.rs precompiles for its target).
    pub fn style_for_arch(&self, arch: &str) -> CStyle {
        let register_args = match arch {
            "x86_64" => 11,
            "aarch64" => 23,
            _ => return CStyle::OneFunction,
        };
        match (self.kind, self.major_version()) {
            (CompilerKind::Clang, Some(major)) if major >= 19 => {
                CStyle::TailCalls { register_args }
            }
            _ => CStyle::OneFunction,
        }
    }

    /// The widest vectors generated code may use, in bytes: 32 where this x86-64 host has AVX2
    /// and the compiler is GCC or clang (which then get `-mavx2`), else 16.
    pub fn vector_bytes(&self) -> usize {
        #[cfg(target_arch = "x86_64")]
        if self.kind != CompilerKind::Other && std::arch::is_x86_feature_detected!("avx2") {
            return 32;
        }
        16
    }

    /// The flags [`compile_shared`](Self::compile_shared) passes (part of cache keys).
    ///
    /// Every compiler gets `-O2 -fPIC -shared -fno-strict-aliasing -fwrapv -w` (signed
    /// arithmetic wraps around, as RISC-V's does). GCC and clang also get `-fno-plt`,
    /// `-fno-semantic-interposition` (calls between the library's own functions are direct and
    /// may be inlined or become tail calls), `-fno-stack-protector` and `-pipe`, and `-mavx2`
    /// on hosts with AVX2 ([`vector_bytes`](Self::vector_bytes)); clang also
    /// `-Qunused-arguments`, and with AVX2 `-mno-vzeroupper` (the generated code clears the
    /// upper halves of vector registers itself).
    pub fn flags(&self) -> Vec<String> {
        let mut flags = self.code_flags(self.vector_bytes());
        flags.splice(1..1, ["-fPIC".to_string(), "-shared".to_string()]);
        flags
    }

    /// The flags that decide the code, for generated code that may use vectors of
    /// `vector_bytes`: [`flags`](Self::flags) less `-fPIC -shared`, with `-mavx2` (and clang's
    /// `-mno-vzeroupper`) only when `vector_bytes` is 32. build.rs compiles the bundled guests
    /// into rvx with these.
    pub fn code_flags(&self, vector_bytes: usize) -> Vec<String> {
        let mut flags: Vec<&str> = "-O2 -fno-strict-aliasing -fwrapv -w".split(' ').collect();
        if self.kind != CompilerKind::Other {
            flags.extend(
                "-fno-plt -fno-semantic-interposition -fno-stack-protector -pipe".split(' '),
            );
        }
        if vector_bytes == 32 {
            flags.push("-mavx2");
        }
        if self.kind == CompilerKind::Clang {
            flags.push("-Qunused-arguments");
            if vector_bytes == 32 {
                // See `RVX_LEAVE_AVX` in the lifter.
                flags.push("-mno-vzeroupper");
            }
        }
        flags.into_iter().map(String::from).collect()
    }

    /// Compiles the C file `c_source` into the shared library `output` and returns how long
    /// the compiler ran.
    ///
    /// The library is written under a temporary name in `output`'s directory and renamed to
    /// `output` only on success, so `output` never holds a partial library. A compiler that
    /// exits unsuccessfully, or successfully without writing a library, gives
    /// [`CompileError::Failed`] with its diagnostics.
    pub fn compile_shared(&self, c_source: &Path, output: &Path) -> Result<Duration, CompileError> {
        let io_error = |path: &Path, what: &str, e: io::Error| CompileError::Io {
            path: path.display().to_string(),
            message: format!("{what}: {e}"),
        };
        let dir = (output.parent())
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = output.file_name().unwrap_or_default().to_string_lossy();
        let temp = TempFile::create(dir, &name, "tmp")
            .map_err(|e| io_error(dir, "cannot create a temporary file", e))?;
        let start = Instant::now();
        let out = Command::new(&self.path)
            .args(self.flags())
            .arg("-o")
            .arg(temp.path())
            .args(["-x", "c"])
            .arg(c_source)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io_error(&self.path, "cannot run the C compiler", e))?;
        let elapsed = start.elapsed();
        let mut diagnostics = [&out.stderr, &out.stdout]
            .map(|bytes| String::from_utf8_lossy(bytes).trim_end().to_string())
            .join("\n")
            .trim_end()
            .to_string();
        let failed = |status: Option<i32>, output: String| CompileError::Failed {
            compiler: self.to_string(),
            status,
            output: truncate_output(output),
        };
        if !out.status.success() {
            return Err(failed(out.status.code(), diagnostics));
        }
        if fs::metadata(temp.path()).map_or(0, |m| m.len()) == 0 {
            diagnostics.insert_str(0, "the compiler reported success but wrote no library\n");
            return Err(failed(out.status.code(), diagnostics));
        }
        temp.persist(output)
            .map_err(|e| io_error(output, "cannot rename the compiled library into place", e))?;
        Ok(elapsed)
    }
}

/// `text` cut to at most [`MAX_OUTPUT_BYTES`] (at a character boundary), saying how much was
/// cut.
fn truncate_output(mut text: String) -> String {
    if text.len() > MAX_OUTPUT_BYTES {
        let mut cut = MAX_OUTPUT_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let omitted = text.len() - cut;
        text.truncate(cut);
        text.push_str(&format!("\n... ({omitted} more bytes not shown)"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_outputs_are_classified() {
        let fsf = "\nCopyright (C) 2022 Free Software Foundation, Inc.";
        assert_eq!(
            classify(&format!("gcc (Debian 12.2.0-14) 12.2.0{fsf}")),
            CompilerKind::Gcc
        );
        assert_eq!(
            classify(&format!("cc (Debian 12.2.0-14) 12.2.0{fsf}")),
            CompilerKind::Gcc
        );
        assert_eq!(
            classify("Debian clang version 19.1.7 (3~deb12u1)"),
            CompilerKind::Clang
        );
        assert_eq!(
            classify("Apple clang version 15.0.0 (clang-1500)"),
            CompilerKind::Clang
        );
        assert_eq!(
            classify("tcc version 0.9.27 (x86_64 Linux)"),
            CompilerKind::Other
        );
    }

    #[test]
    fn long_output_is_truncated_at_a_char_boundary() {
        let cut = truncate_output("é".repeat(MAX_OUTPUT_BYTES));
        assert!(cut.len() < MAX_OUTPUT_BYTES + 100);
        assert!(cut.ends_with("more bytes not shown)"));
        assert_eq!(truncate_output("short".into()), "short");
    }

    #[test]
    fn clang_versions_are_read_from_real_paths() {
        let dir = tempfile::tempdir().unwrap();
        let (llvm, versioned) = (dir.path().join("llvm-17/bin"), dir.path().join("clang-18"));
        fs::create_dir_all(&llvm).unwrap();
        fs::write(llvm.join("clang"), "").unwrap();
        fs::write(&versioned, "").unwrap();
        std::os::unix::fs::symlink(&versioned, dir.path().join("clang")).unwrap();
        assert_eq!(version_hint(&llvm.join("clang")), Some(17));
        assert_eq!(version_hint(&dir.path().join("clang")), Some(18));
        assert_eq!(version_hint(&dir.path().join("missing")), None);
    }

    #[test]
    fn the_cc_crate_default_is_the_last_resort() {
        let mut tried = Vec::new();
        let path = std::env::var_os("PATH");
        let c = cc_crate_default(path.as_deref(), &mut tried);
        assert_ne!(
            c.unwrap_or_else(|| panic!("{tried:?}")).kind,
            CompilerKind::Other
        );
    }
}
