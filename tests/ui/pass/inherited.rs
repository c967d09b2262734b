use rvx::config::Rv32ImConfig;
use rvx::extension::rv32m::Rv32M;
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig, Clone, Default)]
struct Extended {
    #[extension]
    extra: Option<Rv32M>,
    // The `#[config]` field need not come first.
    #[config]
    base: Rv32ImConfig,
}

#[derive(VmConfig, Clone, Default)]
struct ExtendedTwice {
    #[config]
    base: Extended,
    #[extension]
    more: Rv32M,
}

fn main() {
    let config = ExtendedTwice::default();
    let _: &SystemConfig = VmConfig::system(&config);
    assert_eq!(config.extensions().len(), 4);
}
