//! The bundled guest programs: built from `guests/` and committed as ELF files, embedded in rvx
//! so they run by name with no RISC-V toolchain.

/// A guest program shipped with rvx.
#[derive(Debug, Clone, Copy)]
pub struct BundledGuest {
    /// The name used on the command line (`rvx run <name>`).
    pub name: &'static str,
    /// What it does and which inputs it reads.
    pub description: &'static str,
    /// The ELF image.
    pub elf: &'static [u8],
}

/// Every bundled guest, in a stable order.
pub const ALL: &[BundledGuest] = &[
    BundledGuest {
        name: "fibonacci",
        description: "fib(n) mod 2^64; input: n as one 8-byte little-endian record; reveals low, high words",
        elf: include_bytes!("../guests/elf/fibonacci.elf"),
    },
    BundledGuest {
        name: "cpubench",
        description: "sorting, matrix work, hashing; input: scale as one 4-byte little-endian record; reveals 8 checksum words",
        elf: include_bytes!("../guests/elf/cpubench.elf"),
    },
    BundledGuest {
        name: "io",
        description: "exercises every system/IO instruction; input: two records (see guests/README.md)",
        elf: include_bytes!("../guests/elf/io.elf"),
    },
];

/// The bundled guest called `name`.
pub fn find(name: &str) -> Option<&'static BundledGuest> {
    ALL.iter().find(|g| g.name == name)
}
