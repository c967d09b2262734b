//! Puts the workspace linker script (`guests/link.x`) on the linker search path, so that every
//! guest binary linked with `-Tlink.x` (see `guests/.cargo/config.toml`) finds it.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let script = manifest_dir.join("..").join("link.x");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy(&script, out.join("link.x")).expect("copy guests/link.x to OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-changed=build.rs");
}
