//! The bundled guest programs: built from `guests/` and committed as ELF files, embedded in rvx
//! so they run by name with no RISC-V toolchain. Each carries its `openvm.toml`, the
//! configuration it runs with.

use crate::config::AppConfig;
use crate::error::ConfigError;

/// A guest program shipped with rvx.
#[derive(Debug, Clone, Copy)]
pub struct BundledGuest {
    /// The name used on the command line (`rvx run <name>`).
    pub name: &'static str,
    /// What it does and which inputs it reads.
    pub description: &'static str,
    /// The ELF image.
    pub elf: &'static [u8],
    /// Its VM configuration: the `openvm.toml` of its guest project.
    pub config_toml: &'static str,
    /// The workload it is benchmarked on (`cargo bench`, `rvx bench`); `None` for a guest that
    /// is no benchmark.
    pub bench: Option<BenchWorkload>,
}

/// The inputs a bundled guest is benchmarked on.
#[derive(Debug, Clone, Copy)]
pub struct BenchWorkload {
    /// The input records, in order.
    pub inputs: &'static [&'static [u8]],
    /// What the inputs mean, for reports (`n = 8,000,000`).
    pub label: &'static str,
}

impl BenchWorkload {
    /// The input records as owned vectors, as instances take them.
    pub fn records(&self) -> Vec<Vec<u8>> {
        self.inputs.iter().map(|r| r.to_vec()).collect()
    }
}

impl BundledGuest {
    /// The VM configuration it is built for (its `openvm.toml`).
    pub fn config(&self) -> Result<AppConfig, ConfigError> {
        AppConfig::from_toml_str(
            self.config_toml,
            &format!("guests/{}/openvm.toml", self.name),
        )
    }
}

/// Every bundled guest, in a stable order.
pub const ALL: &[BundledGuest] = &[
    BundledGuest {
        name: "fibonacci",
        description: "fib(n) mod 2^64; input: n as one 8-byte little-endian record; reveals low, high words",
        elf: include_bytes!("../guests/elf/fibonacci.elf"),
        config_toml: include_str!("../guests/fibonacci/openvm.toml"),
        bench: Some(BenchWorkload {
            inputs: &[&8_000_000u64.to_le_bytes()],
            label: "n = 8,000,000",
        }),
    },
    BundledGuest {
        name: "cpubench",
        description: "sorting, matrix work, hashing; input: scale as one 4-byte little-endian record; reveals 8 checksum words",
        elf: include_bytes!("../guests/elf/cpubench.elf"),
        config_toml: include_str!("../guests/cpubench/openvm.toml"),
        bench: Some(BenchWorkload {
            inputs: &[&10u32.to_le_bytes()],
            label: "scale 10",
        }),
    },
    BundledGuest {
        name: "io",
        description: "exercises every system/IO instruction; input: two records (see guests/README.md)",
        elf: include_bytes!("../guests/elf/io.elf"),
        config_toml: include_str!("../guests/io/openvm.toml"),
        bench: None,
    },
    BundledGuest {
        name: "keccak",
        description: "Keccak-256 of a generated buffer, chained over rounds (xorin, keccakf); inputs: length, rounds as 4-byte LE records; reveals the digest",
        elf: include_bytes!("../guests/elf/keccak.elf"),
        config_toml: include_str!("../guests/keccak/openvm.toml"),
        // 64 KiB hashed 16 times: 7,712 keccakf and 7,712 xorin.
        bench: Some(BenchWorkload {
            inputs: &[&65_536u32.to_le_bytes(), &16u32.to_le_bytes()],
            label: "64 KiB x 16",
        }),
    },
    BundledGuest {
        name: "sha2",
        description: "SHA-256 and SHA-512 of a generated message, chained over rounds; inputs: length, rounds as 4-byte LE records; reveals both digests (96 bytes)",
        elf: include_bytes!("../guests/elf/sha2.elf"),
        config_toml: include_str!("../guests/sha2/openvm.toml"),
        // 64 KiB hashed 4 times with both: 4,100 SHA-256 and 2,052 SHA-512 compressions.
        bench: Some(BenchWorkload {
            inputs: &[&65_536u32.to_le_bytes(), &4u32.to_le_bytes()],
            label: "64 KiB x 4",
        }),
    },
    BundledGuest {
        name: "bigint",
        description: "a 256-bit integer workload over every 256-bit instruction; input: iterations as a 4-byte LE record; reveals the 32-byte accumulator",
        elf: include_bytes!("../guests/elf/bigint.elf"),
        config_toml: include_str!("../guests/bigint/openvm.toml"),
        // 20,000 iterations of 13 256-bit operations and one beq256.
        bench: Some(BenchWorkload {
            inputs: &[&20_000u32.to_le_bytes()],
            label: "n = 20,000",
        }),
    },
];

/// The bundled guest called `name`.
pub fn find(name: &str) -> Option<&'static BundledGuest> {
    ALL.iter().find(|g| g.name == name)
}
