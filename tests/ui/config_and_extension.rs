use rvx::extension::rv32i::Rv32I;
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig)]
struct Both {
    #[config]
    #[extension]
    system: SystemConfig,
    #[extension]
    #[extension]
    rv32i: Rv32I,
}

fn main() {}
