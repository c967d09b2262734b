use rvx::extension::{io::Io, rv32i::Rv32I};
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig)]
struct Unmarked {
    #[config]
    system: SystemConfig,
    #[extension]
    rv32i: Rv32I,
    /// Documented, but neither `#[config]` nor `#[extension]`.
    pub io: Io,
    name: String,
}

fn main() {}
