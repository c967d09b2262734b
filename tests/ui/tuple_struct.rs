use rvx::extension::rv32i::Rv32I;
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig)]
struct TupleConfig(SystemConfig, Rv32I);

fn main() {}
