use rvx::extension::rv32i::Rv32I;
use rvx::{SystemConfig, VmConfig};

#[derive(Clone)]
struct NotAnExtension;

#[derive(VmConfig)]
struct BadExtension {
    #[config]
    system: SystemConfig,
    #[extension]
    rv32i: Rv32I,
    #[extension]
    custom: NotAnExtension,
    #[extension]
    optional: Option<u32>,
}

fn main() {}
