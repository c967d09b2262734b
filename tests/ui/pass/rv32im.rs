use rvx::extension::{io::Io, rv32i::Rv32I, rv32m::Rv32M};
use rvx::{SystemConfig, VmConfig};

/// RV32IM from scratch, with documented fields and other derives alongside.
#[derive(VmConfig, Debug, Clone, Default)]
pub struct MyConfig {
    /// The system.
    #[config]
    pub system: SystemConfig,
    #[extension]
    rv32i: Rv32I,
    #[extension]
    pub(crate) io: Io,
    #[extension]
    rv32m: Rv32M,
}

fn uses_config<C: VmConfig + AsRef<SystemConfig>>(config: &C) -> usize {
    let _: &SystemConfig = config.as_ref();
    config.extensions().len()
}

fn main() {
    assert_eq!(uses_config(&MyConfig::default()), 3);
}
