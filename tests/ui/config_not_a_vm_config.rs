use rvx::extension::rv32i::Rv32I;
use rvx::VmConfig;

struct NotAConfig {
    _memory: u32,
}

#[derive(VmConfig)]
struct BadConfig {
    #[config]
    system: NotAConfig,
    #[extension]
    rv32i: Rv32I,
}

fn main() {}
