use rvx::extension::{io::Io, rv32i::Rv32I};
use rvx::VmConfig;

#[derive(VmConfig)]
struct NoSystem {
    #[extension]
    rv32i: Rv32I,
    #[extension]
    io: Io,
}

fn main() {}
