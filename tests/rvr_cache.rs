//! The C compiler driver and the artifact cache of the rvr backend, with every C compiler on
//! this machine: gcc always, clang when installed (its checks are skipped with a note if not).

use rvx::backend::rvr::cache::{self, Artifact, ArtifactCache, CacheKey};
use rvx::backend::rvr::compiler::{
    find_compiler, find_compiler_with_env, CCompiler, CompileError, CompilerKind,
    CompilerPreference,
};
use rvx::backend::rvr::CStyle;
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

const ANSWER: &str = "int rvx_answer(void) { return 42; }\n";

/// gcc, and the newest clang if there is one.
fn compilers() -> Vec<CCompiler> {
    let gcc = find_compiler(CompilerPreference::Gcc).expect("gcc is installed");
    assert_eq!(gcc.kind, CompilerKind::Gcc);
    let mut all = vec![gcc];
    match find_compiler(CompilerPreference::Clang) {
        Ok(clang) => {
            assert_eq!(clang.kind, CompilerKind::Clang);
            all.push(clang);
        }
        Err(e) => eprintln!("note: clang checks skipped, no clang found: {e}"),
    }
    all
}

fn key(test: &str, compiler: &CCompiler) -> CacheKey {
    let flags = compiler.flags().join(" ");
    CacheKey::new(&[
        test.as_bytes(),
        compiler.identity.as_bytes(),
        flags.as_bytes(),
    ])
}

/// Loads `library` and calls its `rvx_answer`.
fn call_answer(library: &Path) -> i32 {
    // SAFETY: the library was compiled from this test's C source, which runs no initialisers.
    let lib = unsafe { libloading::Library::new(library) }.expect("library loads");
    // SAFETY: the source defines `int rvx_answer(void)`.
    let answer =
        unsafe { lib.get::<unsafe extern "C" fn() -> i32>(b"rvx_answer\0") }.expect("symbol");
    // SAFETY: as declared in the source; it takes nothing and returns a constant.
    unsafe { answer() }
}

/// Asserts that `dir` holds no temporary files (names starting with a dot).
fn assert_no_temporaries(dir: &Path) {
    let names = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name());
    let temporaries: Vec<_> = names
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");
}

/// `get_or_build` of `source`, which must succeed.
fn build(cache: &ArtifactCache, key: &CacheKey, compiler: &CCompiler, source: &str) -> Artifact {
    cache
        .get_or_build(key, compiler, || source.to_string())
        .unwrap()
}

/// Whether `key` is served from the cache (generating code on a hit is a failure).
fn hits(cache: &ArtifactCache, key: &CacheKey, compiler: &CCompiler) -> bool {
    let artifact = cache.get_or_build(key, compiler, || panic!("a hit generates no code"));
    artifact.unwrap().cache_hit
}

#[test]
fn a_miss_builds_and_a_hit_neither_generates_nor_compiles() {
    for compiler in compilers() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path().join("cache"));
        let key = key("hit", &compiler);
        assert!(!cache.verify(&key));
        let built = build(&cache, &key, &compiler, ANSWER);
        assert!(!built.cache_hit, "{compiler}");
        assert!(built.compile_time > std::time::Duration::ZERO);
        assert_eq!(built.library, cache.library_path(&key));
        assert_eq!(built.sha256, cache::sha256_file(&built.library).unwrap());
        assert_eq!(fs::read_to_string(cache.source_path(&key)).unwrap(), ANSWER);
        let meta = cache.check(&key).unwrap();
        assert_eq!(
            (meta.key.as_str(), meta.library_sha256.as_str()),
            (key.as_str(), built.sha256.as_str())
        );
        assert_eq!(meta.compiler, compiler.version);
        assert_eq!(call_answer(&built.library), 42, "{compiler}");

        let generated = AtomicUsize::new(0);
        let hit = cache.get_or_build(&key, &compiler, || {
            generated.fetch_add(1, Ordering::SeqCst);
            ANSWER.to_string()
        });
        let hit = hit.unwrap();
        assert_eq!(
            generated.load(Ordering::SeqCst),
            0,
            "a hit generates no code"
        );
        assert!(hit.cache_hit);
        assert_eq!(hit.compile_time, std::time::Duration::ZERO);
        assert_eq!((&hit.library, &hit.sha256), (&built.library, &built.sha256));
        cache::verify_library(&hit).unwrap();
        // A new cache value on the same directory (another process) hits too.
        let other = ArtifactCache::new(cache.dir());
        assert!(hits(&other, &key, &compiler));
        assert_no_temporaries(cache.dir());
    }
}

#[test]
fn a_damaged_library_is_rebuilt_not_loaded() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 3] = [
        ("truncated", |p| {
            fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_len(100)
                .unwrap()
        }),
        ("flipped byte", |p| {
            let mut bytes = fs::read(p).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x40;
            fs::write(p, bytes).unwrap();
        }),
        ("deleted", |p| fs::remove_file(p).unwrap()),
    ];
    for compiler in compilers() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path());
        let key = key("damaged library", &compiler);
        let first = build(&cache, &key, &compiler, ANSWER);
        for (what, damage) in damages {
            damage(&first.library);
            assert!(!cache.verify(&key), "{what}");
            if first.library.exists() {
                let err = cache::verify_library(&first).unwrap_err();
                assert!(matches!(err, CompileError::Corrupt { .. }), "{what}: {err}");
            }
            let generated = AtomicUsize::new(0);
            let rebuilt = cache
                .get_or_build(&key, &compiler, || {
                    generated.fetch_add(1, Ordering::SeqCst);
                    ANSWER.to_string()
                })
                .unwrap();
            assert!(!rebuilt.cache_hit, "{what}");
            assert_eq!(generated.load(Ordering::SeqCst), 1, "{what}");
            cache::verify_library(&rebuilt).unwrap();
            assert_eq!(call_answer(&rebuilt.library), 42, "{what} with {compiler}");
            assert!(hits(&cache, &key, &compiler));
        }
    }
}

#[test]
fn damaged_metadata_is_rebuilt() {
    let compiler = find_compiler(CompilerPreference::Gcc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ArtifactCache::new(dir.path());
    let key = key("damaged metadata", &compiler);
    let first = build(&cache, &key, &compiler, ANSWER);
    let meta_path = cache.metadata_path(&key);
    let json = fs::read_to_string(&meta_path).unwrap();
    let other_key = CacheKey::new(&[b"another"]);
    let damages = [
        "not json {".to_string(),
        String::new(),
        json.replace(&first.sha256, &"0".repeat(64)),
        json.replace(key.as_str(), other_key.as_str()),
        json.replace("\"format\": 1", "\"format\": 999"),
        json[..json.len() / 2].to_string(),
    ];
    for damaged in damages.iter().map(Some).chain([None]) {
        match damaged {
            Some(text) => fs::write(&meta_path, text).unwrap(),
            None => fs::remove_file(&meta_path).unwrap(),
        }
        assert!(!cache.verify(&key), "{damaged:?}");
        let rebuilt = build(&cache, &key, &compiler, ANSWER);
        assert!(!rebuilt.cache_hit, "{damaged:?}");
        assert!(cache.verify(&key));
        assert_eq!(call_answer(&rebuilt.library), 42);
    }
}

#[test]
fn different_keys_are_different_entries() {
    for compiler in compilers() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path());
        let (k1, k2) = (key("one", &compiler), key("two", &compiler));
        assert_ne!(k1, k2);
        let a = build(&cache, &k1, &compiler, ANSWER);
        let b = build(&cache, &k2, &compiler, "int rvx_answer(void) { return 7; }");
        assert!(!a.cache_hit && !b.cache_hit);
        assert_ne!(a.library, b.library);
        assert_eq!((call_answer(&a.library), call_answer(&b.library)), (42, 7));
        assert!(hits(&cache, &k1, &compiler));
        assert!(hits(&cache, &k2, &compiler));
    }
}

#[test]
fn a_failing_compile_reports_the_diagnostics_and_stores_nothing() {
    for compiler in compilers() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path());
        let key = key("syntax error", &compiler);
        let broken = "int rvx_answer(void) { return 42 }\n";
        let err = cache
            .get_or_build(&key, &compiler, || broken.to_string())
            .unwrap_err();
        let CompileError::Failed {
            compiler: name,
            status,
            output,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert!(name.contains(&compiler.version), "{name}");
        assert!(status.is_some_and(|s| s != 0), "{status:?}");
        assert!(
            output.contains("error") && output.contains("expected"),
            "{output}"
        );
        assert!(err.to_string().contains(output.as_str()));
        assert!(!cache.library_path(&key).exists() && !cache.metadata_path(&key).exists());
        assert_eq!(
            fs::read_to_string(cache.source_path(&key)).unwrap(),
            broken,
            "kept for debugging"
        );
        assert_no_temporaries(dir.path());

        // Directly: a failed compile leaves an existing output untouched.
        let source = dir.path().join("broken.c");
        fs::write(&source, broken).unwrap();
        let output = dir.path().join("out.so");
        fs::write(&output, "previous").unwrap();
        assert!(matches!(
            compiler.compile_shared(&source, &output),
            Err(CompileError::Failed { .. })
        ));
        assert_eq!(fs::read_to_string(&output).unwrap(), "previous");
        assert_no_temporaries(dir.path());
    }
}

#[test]
fn preferences_parse_and_flags_follow_the_family() {
    let parse = |s: &str| s.parse::<CompilerPreference>().unwrap();
    assert_eq!(parse("auto"), CompilerPreference::Auto);
    assert_eq!(parse("clang"), CompilerPreference::Clang);
    assert_eq!(parse("gcc"), CompilerPreference::Gcc);
    assert_eq!(parse("/opt/cc"), CompilerPreference::Path("/opt/cc".into()));
    let flags = |kind| {
        let (path, version, identity) = ("cc".into(), String::new(), String::new());
        CCompiler {
            path,
            kind,
            version,
            identity,
        }
        .flags()
        .join(" ")
    };
    let portable = "-O2 -fPIC -shared -fno-strict-aliasing -fwrapv -w";
    assert_eq!(flags(CompilerKind::Other), portable);
    let gcc = flags(CompilerKind::Gcc);
    assert!(
        gcc.starts_with(portable) && gcc.contains("-fno-plt"),
        "{gcc}"
    );
    let clang = flags(CompilerKind::Clang);
    assert!(
        clang.starts_with(&gcc) && clang.contains("-Qunused-arguments"),
        "{clang}"
    );
    // Where the host has AVX2, GCC and clang may use 256-bit vectors; clang then leaves the
    // upper halves of vector registers to the generated code.
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    assert_eq!(gcc.contains("-mavx2"), avx2, "{gcc}");
    assert_eq!(clang.ends_with("-mno-vzeroupper"), avx2, "{clang}");
    assert!(!flags(CompilerKind::Other).contains("avx"));
}

#[test]
fn missing_compilers_are_errors() {
    let err = find_compiler(CompilerPreference::Path("/nonexistent/cc".into())).unwrap_err();
    assert!(
        matches!(&err, CompileError::NoCompiler { tried } if tried.iter().any(|t| t.contains("/nonexistent/cc")))
    );
    assert!(err.to_string().contains("/nonexistent/cc"), "{err}");
    // A program that is not a compiler answers `--version` but builds no library.
    if let Ok(not_cc) = find_compiler(CompilerPreference::Path("true".into())) {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("a.c");
        fs::write(&source, ANSWER).unwrap();
        let err = not_cc
            .compile_shared(&source, &dir.path().join("a.so"))
            .unwrap_err();
        assert!(err.to_string().contains("wrote no library"), "{err}");
        assert!(!dir.path().join("a.so").exists());
    }
}

/// A `PATH` holding only links to the named programs of the real `PATH` (when they exist).
fn fake_path(names: &[&str]) -> (tempfile::TempDir, OsString) {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        let real = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(name))
            .find(|p| p.is_file());
        if let Some(real) = real {
            std::os::unix::fs::symlink(real, dir.path().join(name)).unwrap();
        }
    }
    let path = dir.path().as_os_str().to_owned();
    (dir, path)
}

#[test]
fn auto_prefers_the_environment_then_a_tail_calling_clang_then_gcc_then_older_clang() {
    let (_gcc_dir, gcc_only) = fake_path(&["gcc", "cc"]);
    let env = |k: &str| (k == "PATH").then(|| gcc_only.clone());
    let c = find_compiler_with_env(&CompilerPreference::Auto, &env).expect("gcc is installed");
    assert_eq!(c.kind, CompilerKind::Gcc);
    let err = find_compiler_with_env(&CompilerPreference::Clang, &env).unwrap_err();
    assert!(err.to_string().contains("clang: not on PATH"), "{err}");

    // gcc is preferred to a clang older than 19: it optimises the one-function shape better.
    let (_old_dir, old) = fake_path(&["gcc", "cc", "clang", "clang-14"]);
    let env = |k: &str| (k == "PATH").then(|| old.clone());
    let auto = find_compiler_with_env(&CompilerPreference::Auto, &env).unwrap();
    let clang = find_compiler_with_env(&CompilerPreference::Clang, &env);
    if clang.is_ok_and(|c| c.style() == CStyle::OneFunction) {
        assert_eq!(auto.kind, CompilerKind::Gcc);
    }
    // A clang that guarantees tail calls is preferred to gcc: it gets one function per block.
    let (_all_dir, all) = fake_path(&["gcc", "cc", "clang", "clang-14", "clang-19"]);
    let env = |k: &str| (k == "PATH").then(|| all.clone());
    let auto = find_compiler_with_env(&CompilerPreference::Auto, &env).unwrap();
    match find_compiler_with_env(&CompilerPreference::Clang, &env) {
        Ok(clang) if matches!(clang.style(), CStyle::TailCalls { .. }) => {
            assert_eq!(auto, clang)
        }
        _ => assert_eq!(auto.kind, CompilerKind::Gcc),
    }
    let (_clang_dir, clang_only) = fake_path(&["clang", "clang-14", "clang-19"]);
    let env = |k: &str| (k == "PATH").then(|| clang_only.clone());
    match find_compiler(CompilerPreference::Clang) {
        Ok(newest) => {
            let auto = find_compiler_with_env(&CompilerPreference::Auto, &env).unwrap();
            assert_eq!(
                (auto.kind, auto.major_version()),
                (CompilerKind::Clang, newest.major_version())
            );
        }
        Err(_) => eprintln!("note: no clang installed; only gcc's selection is checked"),
    }
    // RVX_CC, then CC, override the search; a broken one is reported, not replaced.
    let gcc = Path::new(&gcc_only).join("gcc").into_os_string();
    let env = |k: &str| match k {
        "PATH" => Some(all.clone()),
        "CC" => Some(gcc.clone()),
        _ => None,
    };
    let chosen = find_compiler_with_env(&CompilerPreference::Auto, &env).unwrap();
    assert_eq!(chosen.kind, CompilerKind::Gcc);
    let env = |k: &str| match k {
        "RVX_CC" => Some(OsString::from("/nonexistent/rvx-cc")),
        "CC" => Some(gcc.clone()),
        _ => None,
    };
    let err = find_compiler_with_env(&CompilerPreference::Auto, &env).unwrap_err();
    assert!(
        err.to_string().contains("RVX_CC=/nonexistent/rvx-cc"),
        "{err}"
    );
    // An empty PATH has neither clang nor gcc.
    for pref in [CompilerPreference::Clang, CompilerPreference::Gcc] {
        let err = find_compiler_with_env(&pref, &|_| None).unwrap_err();
        assert!(matches!(err, CompileError::NoCompiler { ref tried } if !tried.is_empty()));
    }
}

/// Compilers are described by their `--version` output.
#[test]
fn compilers_are_classified_by_their_version_output() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "Debian clang version 19.1.7 (3~deb12u1)",
            CompilerKind::Clang,
            Some(19),
        ),
        ("gcc (Debian 12.2.0-14) 12.2.0", CompilerKind::Gcc, Some(12)),
        ("tcc version 0.9.27", CompilerKind::Other, Some(0)),
        ("mystery", CompilerKind::Other, None),
    ];
    for (i, (text, kind, major)) in cases.into_iter().enumerate() {
        let script = dir.path().join(format!("cc{i}"));
        fs::write(&script, format!("#!/bin/sh\necho '{text}'\n")).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let c = CCompiler::probe(&script).unwrap();
        assert_eq!((c.kind, c.major_version()), (kind, major), "{text}");
        assert_eq!((c.version.as_str(), c.identity.as_str()), (text, text));
    }
}

#[test]
fn concurrent_builds_of_one_key_all_end_with_a_valid_library() {
    for compiler in compilers() {
        let dir = tempfile::tempdir().unwrap();
        let key = key("concurrent", &compiler);
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                // One cache value per thread, as separate processes would have.
                let cache = ArtifactCache::new(dir.path().join("cache"));
                let (key, compiler, barrier) = (key.clone(), compiler.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let artifact = build(&cache, &key, &compiler, ANSWER);
                    cache::verify_library(&artifact).unwrap();
                    artifact
                })
            })
            .collect();
        let artifacts: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let cache = ArtifactCache::new(dir.path().join("cache"));
        assert!(cache.verify(&key));
        assert!(artifacts
            .iter()
            .all(|a| a.library == cache.library_path(&key)));
        assert_eq!(call_answer(&cache.library_path(&key)), 42);
        assert_no_temporaries(cache.dir());
        let misses = artifacts.iter().filter(|a| !a.cache_hit).count();
        eprintln!("{compiler}: {misses} of {threads} racing threads compiled");
    }
}

#[test]
fn clang_takes_guaranteed_tail_calls_and_preserve_none_when_it_has_them() {
    let Ok(clang) = find_compiler(CompilerPreference::Clang) else {
        eprintln!("note: no clang found; skipping the clang-only checks");
        return;
    };
    let source = r#"
        #if __has_attribute(preserve_none)
        #define CC __attribute__((preserve_none))
        #else
        #define CC
        #endif
        static CC int count(int n, int acc) {
            if (n == 0) return acc;
            __attribute__((musttail)) return count(n - 1, acc + 1);
        }
        int rvx_answer(void) { return count(42000000, 0) / 1000000; }
        int rvx_has_preserve_none(void) { return __has_attribute(preserve_none); }
    "#;
    let dir = tempfile::tempdir().unwrap();
    let cache = ArtifactCache::new(dir.path());
    let artifact = cache
        .get_or_build(&key("clang", &clang), &clang, || source.to_string())
        .unwrap();
    assert_eq!(
        call_answer(&artifact.library),
        42,
        "42M guaranteed tail calls do not overflow the stack"
    );
    // SAFETY: the library was compiled from the source above.
    let lib = unsafe { libloading::Library::new(&artifact.library) }.unwrap();
    // SAFETY: the source defines `int rvx_has_preserve_none(void)`.
    let has = unsafe {
        lib.get::<unsafe extern "C" fn() -> i32>(b"rvx_has_preserve_none\0")
            .unwrap()()
    };
    let major = clang.major_version().unwrap_or(0);
    eprintln!(
        "{clang}: preserve_none {}",
        if has != 0 { "available" } else { "unavailable" }
    );
    if cfg!(target_arch = "x86_64") && major >= 19 {
        assert_ne!(has, 0, "clang {major} has preserve_none on x86-64");
    }
}

#[test]
fn files_hash_to_their_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abc");
    fs::write(&path, "abc").unwrap();
    let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(cache::sha256_file(&path).unwrap(), expected);
    let err = cache::sha256_file(&dir.path().join("missing")).unwrap_err();
    assert!(
        matches!(err, CompileError::Io { ref path, .. } if path.ends_with("missing")),
        "{err}"
    );
}

#[test]
fn an_unusable_cache_directory_is_a_cache_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    let cache = ArtifactCache::new(file.join("sub"));
    let compiler = find_compiler(CompilerPreference::Gcc).unwrap();
    let key = CacheKey::new(&[b"k"]);
    let err = cache
        .get_or_build(&key, &compiler, || unreachable!())
        .unwrap_err();
    assert!(matches!(err, CompileError::Cache { .. }), "{err}");
    assert!(!cache.verify(&key));
}
