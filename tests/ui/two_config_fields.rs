use rvx::extension::rv32i::Rv32I;
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig)]
struct TwoSystems {
    #[config]
    system: SystemConfig,
    #[config]
    other: SystemConfig,
    #[extension]
    rv32i: Rv32I,
}

fn main() {}
