use rvx::extension::rv32i::Rv32I;
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig)]
enum EnumConfig {
    System(SystemConfig),
    Rv32I(Rv32I),
}

fn main() {}
