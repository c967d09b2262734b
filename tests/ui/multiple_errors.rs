use rvx::extension::rv32i::Rv32I;
use rvx::VmConfig;

#[derive(VmConfig)]
struct ManyMistakes {
    #[extension(foo)]
    rv32i: Rv32I,
    name: String,
}

fn main() {}
