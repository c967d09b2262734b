use rvx::extension::{io::Io, rv32i::Rv32I, rv32m::Rv32M};
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig)]
struct WithArguments {
    #[config = 1]
    system: SystemConfig,
    #[extension(foo)]
    rv32i: Rv32I,
    #[extension(skip = true, rename = "io")]
    io: Io,
    #[extension()]
    rv32m: Rv32M,
}

fn main() {}
