//! The build script's work with the `precompiled` feature: lift every bundled guest in every
//! mode, compile the C into one static library, and write the registry (see `build.rs`).

use crate::backend::rvr::cache::CacheKey;
use crate::backend::rvr::compiler::{find_compiler, CCompiler, CompilerPreference};
use crate::backend::rvr::key::codegen_key;
use crate::backend::rvr::lift::{lift_with_prefix, CStyle, LiftMode};
use crate::guests;
use crate::program::Program;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The static library the C is compiled into (`lib<name>.a` in `OUT_DIR`).
const LIBRARY: &str = "rvx_precompiled";

const MODES: [LiftMode; 3] = [LiftMode::Pure, LiftMode::Metered, LiftMode::Cost];

/// The files whose change must rerun the build script besides those it is compiled from
/// (cargo reruns it whenever it is rebuilt, which any change to an included module causes).
const INPUTS: [&str; 2] = ["guests/elf", "src/guests.rs"];

/// One generated C file.
struct Unit {
    guest: &'static str,
    mode: LiftMode,
    /// The prefix of its exported symbols.
    prefix: String,
    key: String,
    fingerprint: u64,
    source: PathBuf,
}

/// The C compiler, and how it is used for the target.
struct Target {
    build: cc::Build,
    compiler: CCompiler,
    style: CStyle,
    vector_bytes: usize,
    flags: Vec<String>,
}

/// Precompiles the bundled guests into `out_dir`, or writes an empty registry saying why not.
pub fn run(out_dir: &Path) {
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }
    for guest in guests::ALL {
        println!("cargo:rerun-if-changed=guests/{}/openvm.toml", guest.name);
    }
    let registry = match precompile(out_dir) {
        Ok(registry) => registry,
        Err(reason) => {
            println!("cargo:warning=rvx: the bundled guests are not precompiled: {reason}");
            absent(&reason)
        }
    };
    fs::write(out_dir.join("precompiled.rs"), registry).expect("write the registry");
}

/// The registry of no precompiled guest, for `reason`.
fn absent(reason: &str) -> String {
    format!(
        "pub(super) const BUILD: PrecompiledBuild = PrecompiledBuild::Absent {{ reason: {reason:?} }};\npub(super) static ENTRIES: [Precompiled; 0] = [];\n"
    )
}

/// Lifts and compiles everything; returns the registry, or why nothing was precompiled.
fn precompile(out_dir: &Path) -> Result<String, String> {
    let target = target()?;
    let dir = out_dir.join("precompiled");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let started = Instant::now();
    let (mut units, mut sources) = (Vec::new(), Vec::new());
    for guest in guests::ALL {
        let config = guest.config().map_err(|e| format!("{}: {e}", guest.name))?;
        let program =
            Program::from_elf(guest.elf, &config).map_err(|e| format!("{}: {e}", guest.name))?;
        for mode in MODES {
            let name: String = (guest.name.chars())
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            let prefix = format!("rvx_pre_{name}_{}_", mode.name());
            let c = lift_with_prefix(&program, mode, target.style, target.vector_bytes, &prefix);
            let source = dir.join(format!("{name}_{}.c", mode.name()));
            write_if_changed(&source, &c)?;
            sources.push(c);
            units.push(Unit {
                guest: guest.name,
                mode,
                prefix,
                key: codegen_key(&program, mode).to_string(),
                fingerprint: program.fingerprint(),
                source,
            });
        }
    }
    let lifted = started.elapsed();
    // The library is named by the hash of everything it is built from, and compiled only if no
    // library of that name is at hand: in `OUT_DIR` (editing rvx reruns this script, but
    // usually leaves the generated code as it was) or in the target directory's store, which
    // the build scripts of other profiles and configurations (debug, release, test) share.
    let stamp = format!(
        "{}\n{}\n{}\n",
        target.compiler.identity,
        target.compiler.path.display(),
        target.flags.join(" ")
    );
    let mut parts: Vec<&[u8]> = vec![stamp.as_bytes()];
    parts.extend(sources.iter().map(|c| c.as_bytes()));
    let hash = CacheKey::new(&parts).to_string();
    let library = out_dir.join(format!("lib{LIBRARY}.a"));
    let built = out_dir.join("precompiled.hash");
    let store = shared_store(out_dir);
    let stored = store.as_ref().map(|dir| dir.join(format!("{hash}.a")));
    let started = Instant::now();
    let from = if fs::read(&built).is_ok_and(|h| h == hash.as_bytes()) && library.exists() {
        "kept"
    } else if stored
        .as_ref()
        .is_some_and(|s| copy_into_place(s, &library).is_ok())
    {
        "from the shared store"
    } else {
        let _ = fs::remove_file(&built);
        let _ = fs::remove_file(&library);
        let mut build = target.build.clone();
        build.files(units.iter().map(|u| &u.source));
        // This prints the link instructions.
        build
            .try_compile(LIBRARY)
            .map_err(|e| format!("{} failed: {e}", target.compiler))?;
        if let (Some(dir), Some(stored)) = (&store, &stored) {
            // The store is a cache: failing to fill it changes nothing else.
            let _ = fs::create_dir_all(dir).and_then(|_| copy_into_place(&library, stored));
            prune(dir, &hash);
        }
        "compiled"
    };
    if from != "compiled" {
        println!("cargo:rustc-link-search=native={}", out_dir.display());
        println!("cargo:rustc-link-lib=static={LIBRARY}");
    }
    write_if_changed(&built, &hash)?;
    println!(
        "rvx-precompile: lifted {} files in {:.2} s; library {hash} {from} in {:.2} s ({}, {})",
        units.len(),
        lifted.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        target.compiler,
        target.style.name()
    );
    Ok(registry(&target, &units))
}

/// The C compiler for the target, its C shape, vector width and flags.
fn target() -> Result<Target, String> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let (host, triple) = (var("HOST"), var("TARGET"));
    let arch = var("CARGO_CFG_TARGET_ARCH");
    let mut build = cc::Build::new();
    build
        .opt_level(2)
        .debug(false)
        .warnings(false)
        .extra_warnings(false)
        .cargo_warnings(false);
    let underscored = triple.replace('-', "_");
    let chosen = [
        "CC",
        "TARGET_CC",
        &format!("CC_{triple}"),
        &format!("CC_{underscored}"),
    ]
    .iter()
    .any(|name| {
        println!("cargo:rerun-if-env-changed={name}");
        std::env::var_os(name).is_some_and(|v| !v.is_empty())
    });
    if !chosen && host == triple {
        // clang 19 or newer gets the one-function-per-block shape, which runs faster.
        if let Ok(clang) = find_compiler(CompilerPreference::Clang) {
            if clang.major_version().is_some_and(|v| v >= 19) {
                build.compiler(&clang.path);
            }
        }
    }
    let tool = build
        .try_get_compiler()
        .map_err(|e| format!("no C compiler: {e}"))?;
    let compiler =
        CCompiler::probe(tool.path()).map_err(|e| format!("no working C compiler: {e}"))?;
    let avx2 = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "avx2");
    let vector_bytes = if avx2 && arch == "x86_64" { 32 } else { 16 };
    let flags = compiler.code_flags(vector_bytes);
    for flag in &flags {
        build.flag(flag);
    }
    Ok(Target {
        style: compiler.style_for_arch(&arch),
        build,
        compiler,
        vector_bytes,
        flags,
    })
}

/// Libraries kept in the store besides the one just built (the newest first).
const STORE_KEEP: usize = 3;

/// The store of compiled libraries shared by this target directory's build scripts:
/// `<target dir>/rvx-precompiled`, found from `OUT_DIR` (`<target dir>/<profile>/build/
/// rvx-<hash>/out`); `None` if `OUT_DIR` is laid out otherwise.
fn shared_store(out_dir: &Path) -> Option<PathBuf> {
    let build = out_dir.ancestors().nth(2)?;
    (build.file_name()? == "build")
        .then(|| out_dir.ancestors().nth(4).map(Path::to_path_buf))?
        .map(|target| target.join("rvx-precompiled"))
}

/// Copies `from` to `to` through a temporary file renamed into place, so that `to` is never
/// seen half-written by a build script running at the same time.
fn copy_into_place(from: &Path, to: &Path) -> std::io::Result<()> {
    let temp = to.with_extension(format!("tmp{}", std::process::id()));
    fs::copy(from, &temp)?;
    fs::rename(&temp, to).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })
}

/// Deletes all but the newest [`STORE_KEEP`] libraries of the store besides `keep`.
fn prune(dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut libraries: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?;
            let ours = name.ends_with(".a") && !name.starts_with(keep);
            let modified = path.metadata().ok()?.modified().ok()?;
            ours.then_some((modified, path))
        })
        .collect();
    libraries.sort_by_key(|l| std::cmp::Reverse(l.0));
    for (_, path) in libraries.into_iter().skip(STORE_KEEP) {
        let _ = fs::remove_file(path);
    }
}

/// Writes `text` to `path` unless it already holds exactly that; returns whether it wrote.
fn write_if_changed(path: &Path, text: &str) -> Result<bool, String> {
    if fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(false);
    }
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(true)
}

/// The Rust source of the registry of `units`, compiled by `target`.
fn registry(target: &Target, units: &[Unit]) -> String {
    let mut s =
        String::from("// Generated by build.rs: the bundled guests precompiled into rvx.\n");
    writeln!(
        s,
        "pub(super) const BUILD: PrecompiledBuild = PrecompiledBuild::Compiled {{\n    compiler: {:?},\n    style: {:?},\n    flags: {:?},\n    vector_bytes: {},\n}};",
        target.compiler.to_string(),
        target.style.name(),
        target.flags.join(" "),
        target.vector_bytes
    )
    .unwrap();
    s.push_str("extern \"C\" {\n");
    for unit in units {
        let p = &unit.prefix;
        writeln!(
            s,
            "    static {p}abi_version: u32;\n    static {p}program_fingerprint: u64;\n    fn {p}run_{}(ctx: *mut RvxCtx) -> u32;",
            unit.mode.name()
        )
        .unwrap();
    }
    s.push_str("}\n");
    writeln!(
        s,
        "pub(super) static ENTRIES: [Precompiled; {}] = [",
        units.len()
    )
    .unwrap();
    for unit in units {
        let p = &unit.prefix;
        let mode = match unit.mode {
            LiftMode::Pure => "Pure",
            LiftMode::Metered => "Metered",
            LiftMode::Cost => "Cost",
        };
        writeln!(
            s,
            "    Precompiled {{\n        guest: {:?},\n        mode: LiftMode::{mode},\n        key: {:?},\n        fingerprint: {:#x},\n        run: {p}run_{},\n        // SAFETY: the C compiled into rvx defines both as constants of these types.\n        exported: || unsafe {{ ({p}abi_version, {p}program_fingerprint) }},\n    }},",
            unit.guest,
            unit.key,
            unit.fingerprint,
            unit.mode.name()
        )
        .unwrap();
    }
    s.push_str("];\n");
    s
}
