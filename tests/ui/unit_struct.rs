use rvx::VmConfig;

#[derive(VmConfig)]
struct UnitConfig;

fn main() {}
